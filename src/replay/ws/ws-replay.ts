import { Worker } from 'node:worker_threads';
import { getCapture } from '../../capture/capture-catalog.ts';
import { NetworkError, UsageError } from '../../core/errors.ts';
import { seededRandom } from '../../core/random.ts';
import type { RunSession } from '../../run/run-session.ts';
import { num, str, type Store } from '../../store/store.ts';
import { LatencyHistogram } from '../../core/latency-histogram.ts';
import { latenessOf, type Lateness } from '../replay-figures.ts';
import { senderPark } from '../sender-wait.ts';
import { abortFlag, sendingThreadDone } from '../sending-threads.ts';
import { FeedTableWriter } from '../../store/batched-table-writer.ts';
import { columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import { Schedule, type ReplayPlan } from '../replay-plan.ts';
import { WS_RESULT } from './ws-result-row.js';

/** `ws_sends`: each frame a replay fed the agent. */
const COLUMNS = {
  run_id: 'i32',
  send_no: 'u32',
  session_id: 'varchar',
  stream: 'varchar',
  seq: 'i64',
  scheduled_ns: 'i64',
  actual_ns: 'i64',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** A recorded frame, ready to send. */
export interface WsFrame {
  tsNs: bigint;
  sessionId: string;
  stream: string;
  seq: number;
  text: string;
}

export interface WsReplayStats {
  planned: number;
  sent: number;
  lateness: Lateness;
  achievedRate: number | null;
}

/** A capture's frames in recorded order, a deterministic share of its sessions when the plan samples. */
export async function loadFrames(store: Store, name: string, plan: ReplayPlan): Promise<WsFrame[]> {
  const capture = await getCapture(store, name);
  if (capture.wsFrames === 0) throw new UsageError(`capture "${name}" has no telemetry frames: a frame replay takes a recording imported from newline-delimited JSON, or a pcap / pcapng of WebSocket sessions`, { field: 'capture' });
  const rows = await store.query('SELECT ts_ns, session_id, stream, seq, frame FROM ws_frames WHERE capture_id = $id ORDER BY ts_ns, idx', { id: capture.captureId });
  const chosen = seededRandom(plan.seed);
  const sessions = new Map<string, boolean>();
  const keep = (session: string): boolean => {
    if (!sessions.has(session)) sessions.set(session, plan.sample >= 1 || chosen() < plan.sample);
    return sessions.get(session) === true;
  };
  return rows
    .map((row) => ({ tsNs: typeof row.ts_ns === 'bigint' ? row.ts_ns : 0n, sessionId: str(row.session_id), stream: str(row.stream), seq: num(row.seq), text: str(row.frame) }))
    .filter((frame) => keep(frame.sessionId))
    .map((frame) => ({ ...frame, text: withIdentity(frame) }));
}

/**
 * The frame as sent: carrying the session, stream and sequence number it was stored under, which the agent and the
 * gateways key it by. A frame captured without them (named by its connection and order at import) gets them added;
 * a frame that is not a JSON object goes as recorded.
 */
function withIdentity(frame: Omit<WsFrame, 'text'> & { text: string }): string {
  let fields: unknown;
  try {
    fields = JSON.parse(frame.text);
  } catch {
    return frame.text;
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return frame.text;
  const own = fields as Record<string, unknown>;
  if (own.sessionId === frame.sessionId && own.stream === frame.stream && own.seq === frame.seq) return frame.text;
  return JSON.stringify({ ...own, sessionId: frame.sessionId, stream: frame.stream, seq: frame.seq });
}

/**
 * Feeds the frames to the relay agent's ingest (one WebSocket) at the plan's times, recording each send (`ws_sends`).
 * Each loop numbers its frames after the last loop's, so every send is a frame of its own at the gateways. The frames
 * go from a thread of their own (`ws-send-worker.js`): this one runs a scenario's relay agent and gateways, and
 * records what that thread reports.
 */
export async function sendWsReplay(
  session: RunSession,
  options: { store: Store; frames: readonly WsFrame[]; target: string; plan: ReplayPlan; signal?: AbortSignal; onStart?: (startNs: bigint) => void },
): Promise<{ status: 'completed' | 'interrupted'; stats: WsReplayStats; startNs: bigint | undefined }> {
  const { frames } = options;
  // Through a feed on the 250 ms commit clock: an appender's flush (DuckDB's own, at 204,800 rows) held this thread,
  // which runs a scenario's agent and gateways, 72 ms, and an appender committed nothing before the end.
  const sends = await FeedTableWriter.open(options.store, 'ws_sends', Object.values(COLUMNS));
  session.defer('ws sends', () => sends.finish());
  const offsetsNs = scheduleOf(frames, options.plan);
  const seqSpan = frames.reduce((max, f) => Math.max(max, f.seq), 0) + 1;
  const { shared, release } = abortFlag(options.signal);
  session.defer('abort listener', release);
  const worker = new Worker(new URL('./ws-send-worker.js', import.meta.url), {
    workerData: { target: options.target, texts: frames.map((f) => f.text), seqs: Float64Array.from(frames, (f) => f.seq), seqSpan, offsetsNs, shared, park: senderPark() },
  });
  session.defer('sending thread', async () => void (await worker.terminate()));
  const lateNs = new LatencyHistogram();
  let sent = 0;
  let startNs: number | undefined;
  let lastNs = 0;
  const record = (rows: Float64Array, count: number): void => {
    for (let at = 0; at < count * WS_RESULT.width; at += WS_RESULT.width) {
      const sendNo = rows[at + WS_RESULT.sendNo] as number;
      const actualNs = rows[at + WS_RESULT.actualNs] as number;
      const frame = frames[sendNo % frames.length] as WsFrame;
      const scheduledNs = (startNs ?? 0) + (offsetsNs[sendNo] as number);
      const seq = frame.seq + Math.floor(sendNo / frames.length) * seqSpan;
      const r = sends.rows;
      r.setNumber(C.run_id, session.runId);
      r.setNumber(C.send_no, sendNo);
      r.setString(C.session_id, frame.sessionId);
      r.setString(C.stream, frame.stream);
      r.setSafeInteger(C.seq, seq);
      r.setSafeInteger(C.scheduled_ns, Math.round(scheduledNs));
      r.setSafeInteger(C.actual_ns, Math.round(actualNs));
      r.endRow();
      lateNs.record(actualNs - scheduledNs);
      lastNs = Math.max(lastNs, actualNs);
      sent++;
    }
  };
  if (offsetsNs.length > 0) {
    await sendingThreadDone<WorkerMessage>(
      worker,
      'the WebSocket sending thread',
      (message) => {
        if (message.type === 'start') {
          startNs = message.startNs;
          options.onStart?.(BigInt(Math.round(message.startNs)));
        } else if (message.type === 'rows') record(message.rows, message.count);
      },
      (message) => new NetworkError(`the WebSocket sending thread failed: ${message}`, { field: 'target' }),
    );
  }
  const seconds = startNs === undefined ? 0 : (lastNs - startNs) / 1e9;
  const stats: WsReplayStats = {
    planned: offsetsNs.length,
    sent,
    lateness: latenessOf(lateNs),
    achievedRate: sent > 1 && seconds > 0 ? sent / seconds : null,
  };
  return { status: options.signal?.aborted === true ? 'interrupted' : 'completed', stats, startNs: sent > 0 && startNs !== undefined ? BigInt(Math.round(startNs)) : undefined };
}

type WorkerMessage = { type: 'start'; startNs: number } | { type: 'rows'; rows: Float64Array; count: number } | { type: 'done'; startNs: number };

/** Each send's time into the plan, loop after loop, within the plan's duration. */
function scheduleOf(frames: readonly WsFrame[], plan: ReplayPlan): Float64Array {
  const firstNs = frames[0]?.tsNs ?? 0n;
  const schedule = new Schedule(plan.pace, Number((frames.at(-1)?.tsNs ?? 0n) - firstNs), frames.length);
  const offsets: number[] = [];
  outer: for (let loop = 0; loop < plan.loops; loop++) {
    for (const frame of frames) {
      const offsetNs = schedule.offsetNs(offsets.length, loop, Number(frame.tsNs - firstNs)) ?? 0;
      if (plan.durationMs !== undefined && offsetNs > plan.durationMs * 1e6) break outer;
      offsets.push(offsetNs);
    }
  }
  return Float64Array.from(offsets);
}
