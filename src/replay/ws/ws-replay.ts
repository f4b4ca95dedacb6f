import WebSocket from 'ws';
import { getCapture } from '../../capture/capture-catalog.ts';
import { UsageError } from '../../core/errors.ts';
import { seededRandom } from '../../core/random.ts';
import type { RunSession } from '../../run/run-session.ts';
import { num, str, type Store } from '../../store/store.ts';
import { LatencyHistogram } from '../../core/latency-histogram.ts';
import { latenessOf, type Lateness } from '../replay-figures.ts';
import { waitUntil } from '../thread-clock.js';
import { Schedule, type ReplayPlan } from '../replay-plan.ts';
import { WsSendWriter } from './ws-send-writer.ts';

/** Frames sent between two looks at whether DuckDB keeps up with their records (a chunk's worth). */
const READY_EVERY = 2048;

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
 * Each loop numbers its frames after the last loop's, so every send is a frame of its own at the gateways.
 */
export async function sendWsReplay(
  session: RunSession,
  options: { store: Store; frames: readonly WsFrame[]; target: string; plan: ReplayPlan; signal?: AbortSignal; onStart?: (startNs: bigint) => void },
): Promise<{ status: 'completed' | 'interrupted'; stats: WsReplayStats; startNs: bigint | undefined }> {
  const { frames, plan } = options;
  const sends = await WsSendWriter.create(options.store, session.runId);
  session.defer('ws sends', () => sends.finish());
  const socket = new WebSocket(options.target);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  session.defer('agent ingest connection', () => socket.close());
  const firstNs = frames[0]?.tsNs ?? 0n;
  const schedule = new Schedule(plan.pace, Number((frames.at(-1)?.tsNs ?? 0n) - firstNs), frames.length);
  const seqSpan = frames.reduce((max, f) => Math.max(max, f.seq), 0) + 1;
  const lateNs = new LatencyHistogram();
  let sent = 0;
  let planned = 0;
  const startNs = process.hrtime.bigint() + 20_000_000n;
  options.onStart?.(startNs);
  let lastNs = startNs;
  outer: for (let loop = 0; loop < plan.loops; loop++) {
    for (const frame of frames) {
      const offsetNs = schedule.offsetNs(planned, loop, Number(frame.tsNs - firstNs)) ?? 0;
      if (plan.durationMs !== undefined && offsetNs > plan.durationMs * 1e6) break outer;
      if (options.signal?.aborted === true) break outer;
      planned++;
      const scheduledNs = startNs + BigInt(Math.round(offsetNs));
      await waitUntil(Number(scheduledNs), () => options.signal?.aborted === true);
      const seq = frame.seq + loop * seqSpan;
      socket.send(loop === 0 ? frame.text : renumbered(frame.text, seq));
      const actualNs = process.hrtime.bigint();
      lastNs = actualNs;
      sends.add({ sendNo: sent, sessionId: frame.sessionId, stream: frame.stream, seq, scheduledNs, actualNs });
      lateNs.record(Number(actualNs - scheduledNs));
      sent++;
      // Waits only when DuckDB has fallen behind: the records' backlog stays bounded however long the run.
      if (sent % READY_EVERY === 0) await sends.ready();
    }
  }
  const seconds = Number(lastNs - startNs) / 1e9;
  const stats: WsReplayStats = {
    planned,
    sent,
    lateness: latenessOf(lateNs),
    achievedRate: sent > 1 && seconds > 0 ? sent / seconds : null,
  };
  return { status: options.signal?.aborted === true ? 'interrupted' : 'completed', stats, startNs: sent > 0 ? startNs : undefined };
}

/** A later loop's copy of a frame: numbered after the last loop's (a frame that is not JSON goes as it is). */
function renumbered(text: string, seq: number): string {
  try {
    return JSON.stringify({ ...(JSON.parse(text) as object), seq });
  } catch {
    return text;
  }
}
