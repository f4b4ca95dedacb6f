import { isStorableNs, LAST_STORABLE_MS, STORABLE_RANGE } from '../../core/epoch-ns.ts';

/** One telemetry frame of a recording. */
export interface RecordedFrame {
  /** Wall-clock ns it was recorded (0: the line did not say). */
  tsNs: bigint;
  sessionId: string;
  stream: string;
  seq: number;
  /** The line as recorded: what is replayed. */
  text: string;
}

export interface FrameRecordingRead {
  frames: RecordedFrame[];
  /** Why the file ended early (a line that is not a JSON object, a last line cut short), naming the line and byte offset. */
  fault: string | null;
}

/** Does this file look like a newline-delimited JSON recording of frames (by its name)? */
export function isFrameRecordingName(file: string): boolean {
  return /\.(ndjson|jsonl)$/i.test(file);
}

/**
 * Reads a newline-delimited JSON recording of telemetry frames: one JSON object per line, with `sessionId`, `stream`,
 * `seq` and a time (`ts` or `t`: epoch milliseconds, or an ISO date), each optional: a frame without a session or
 * stream is in `default`, one without `seq` is numbered in its stream's order. The first line that is not a JSON
 * object ends the file there (the complete frames before it are kept) and is named with its line and byte offset.
 */
export function readFrameRecording(file: string, bytes: Uint8Array): FrameRecordingRead {
  const text = new TextDecoder().decode(bytes);
  const frames: RecordedFrame[] = [];
  const nextSeq = new Map<string, number>();
  let offset = 0;
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    const start = offset;
    offset += Buffer.byteLength(line) + 1;
    const trimmed = line.trim();
    if (trimmed === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      const cut = offset > bytes.length;
      return { frames, fault: `${file}: line ${lineNo} (byte offset ${start}) ${cut ? 'is cut short' : 'is not JSON'}; the ${frames.length} frames before it are kept` };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { frames, fault: `${file}: line ${lineNo} (byte offset ${start}) is not a JSON object; the ${frames.length} frames before it are kept` };
    const fields = value as Record<string, unknown>;
    const time = fields.ts ?? fields.t;
    if (timeOf(time) === null) {
      return { frames, fault: `${file}: line ${lineNo} (byte offset ${start}) has time ${JSON.stringify(time)}, not epoch milliseconds or an ISO date in ${STORABLE_RANGE}; the ${frames.length} frames before it are kept` };
    }
    frames.push(telemetryFrame(fields, trimmed, { sessionId: 'default', stream: 'default', tsNs: 0n }, nextSeq));
  }
  return { frames, fault: null };
}

/**
 * A frame's session, stream, sequence number and time from its JSON fields (`sessionId`, `stream`, `seq`, `ts` or
 * `t`), each falling back to `defaults`; a frame with no `seq` is numbered in its stream's order (`nextSeq`).
 */
export function telemetryFrame(
  fields: Record<string, unknown>,
  text: string,
  defaults: { sessionId: string; stream: string; tsNs: bigint },
  nextSeq: Map<string, number>,
): RecordedFrame {
  const sessionId = typeof fields.sessionId === 'string' ? fields.sessionId : defaults.sessionId;
  const stream = typeof fields.stream === 'string' ? fields.stream : defaults.stream;
  const key = `${sessionId}\u0000${stream}`;
  const seq = typeof fields.seq === 'number' && Number.isSafeInteger(fields.seq) ? fields.seq : (nextSeq.get(key) ?? 0);
  nextSeq.set(key, seq + 1);
  const tsNs = timeOf(fields.ts ?? fields.t);
  return { tsNs: tsNs === undefined || tsNs === null || tsNs === 0n ? defaults.tsNs : tsNs, sessionId, stream, seq, text };
}

/** A frame's own time in ns: undefined when it gives none, null when what it gives is not a time the store can hold. */
function timeOf(value: unknown): bigint | null | undefined {
  if (value === undefined) return undefined;
  let ns: bigint | null = null;
  // Past the storable range in milliseconds first: 1e308 ms is Infinity in ns, which BigInt refuses with a throw.
  if (typeof value === 'number' && value >= 0 && value <= LAST_STORABLE_MS) ns = BigInt(Math.round(value * 1e6));
  else if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) ns = BigInt(ms) * 1_000_000n;
  }
  return ns !== null && isStorableNs(ns) ? ns : null;
}
