import { Worker } from 'node:worker_threads';
import { getCapture } from '../../capture/capture-catalog.ts';
import { UsageError } from '../../core/errors.ts';
import { CONNECTION_HEADERS } from '../../core/http-headers.ts';
import { payloadHash } from '../../core/payload-hash.ts';
import { seededRandom } from '../../core/random.ts';
import { RunSession } from '../../run/run-session.ts';
import type { RunStatus } from '../../store/runs.ts';
import { nextRunName } from '../../store/runs.ts';
import { num, str, type Store } from '../../store/store.ts';
import { LatencyHistogram } from '../../core/latency-histogram.ts';
import { latenessOf, storedReplayStats, type Lateness } from '../replay-figures.ts';
import { ANSWER_TIMEOUT_MS } from '../answer-timeout.js';
import { describePace, Schedule, type ReplayPlan } from '../replay-plan.ts';
import { senderPark } from '../sender-wait.ts';
import { abortFlag, sendingThreadDone } from '../sending-threads.ts';
import { HttpSendWriter, type HttpSend } from './http-send-writer.ts';

/** Headers that belong to the recorded connection, or that the client sets itself, never replayed as recorded. */
const NOT_REPLAYED = new Set([...CONNECTION_HEADERS, 'host', 'content-length', 'x-request-id']);

export interface HttpReplayOptions {
  store: Store;
  /** A capture imported from a HAR file. */
  capture: string;
  /** Where to send: the shadowing proxy under test (http://host:port). */
  target: string;
  plan: ReplayPlan;
  /** Connections to the target at most (requests beyond wait for one). */
  connections?: number;
  /** How long a request may wait for its answer before it is recorded as unanswered (default ANSWER_TIMEOUT_MS). */
  answerTimeoutMs?: number;
  runName?: string;
  signal?: AbortSignal;
}

export interface HttpReplayStats {
  planned: number;
  sent: number;
  answered: number;
  errors: number;
  lateness: Lateness;
  /** Requests a second over the run; null below two sends. */
  achievedRate: number | null;
}

/** A recorded request, ready to send. */
export interface Exchange {
  idx: number;
  tsNs: bigint;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/**
 * Replays a HAR capture's requests through a shadowing proxy at a timing plan (the UDP replayer's: original timing
 * x N, a fixed rate, a ramp, as fast as possible; loops, a duration, a sample), over a bounded pool of connections.
 * Every request carries an `X-Request-ID` of its own (`<run>-<send number>`) so each leg can be tied to it; each send
 * is recorded with its scheduled and actual time, and the answer's status, size, hash and `X-Routed-To`. A run in the
 * store like any other (kind replay, protocol http).
 */
export async function replayHttpCapture(options: HttpReplayOptions): Promise<{ runId: number; runName: string; status: RunStatus; stats: HttpReplayStats }> {
  const { store, plan } = options;
  const exchanges = await loadExchanges(store, options.capture, plan);
  const runName = options.runName ?? (await nextRunName(store, `${options.capture}-replay`));
  const session = await RunSession.create(store, {
    name: runName,
    kind: 'replay',
    protocol: 'http',
    relay: options.target,
    plan: { ...plan, description: describePace(plan.pace), portMap: {}, devices: '', ackTimeoutMs: options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS },
  });
  try {
    const replayed = await sendHttpReplay(session, { ...options, exchanges });
    await session.finish(replayed.status, storedReplayStats(replayed.stats, plan), replayed.startNs);
    return { runId: session.runId, runName, status: replayed.status, stats: replayed.stats };
  } catch (error) {
    return session.fail(error);
  }
}

/**
 * Sends the exchanges through the target within a run the caller owns (a replay's, a scenario's), recording each send;
 * its writer and connections are registered with the session, which stops them.
 */
export async function sendHttpReplay(
  session: RunSession,
  options: { store: Store; exchanges: readonly Exchange[]; target: string; plan: ReplayPlan; connections?: number; answerTimeoutMs?: number; signal?: AbortSignal },
): Promise<{ status: 'completed' | 'interrupted'; stats: HttpReplayStats; startNs: bigint | undefined }> {
  const writer = await HttpSendWriter.create(options.store, session.runId);
  session.defer('http sends', () => writer.finish());
  const connections = options.connections ?? 64;
  const tally = await sendAll(options.exchanges, options.plan, { target: options.target, connections, answerTimeoutMs: options.answerTimeoutMs ?? ANSWER_TIMEOUT_MS }, session.name, options.signal, (send) => writer.add(send));
  const seconds = tally.firstNs === undefined || tally.lastNs === undefined ? 0 : Number(tally.lastNs - tally.firstNs) / 1e9;
  const stats: HttpReplayStats = {
    planned: tally.planned,
    sent: tally.sent,
    answered: tally.answered,
    errors: tally.errors,
    lateness: latenessOf(tally.lateNs),
    achievedRate: tally.sent > 1 && seconds > 0 ? (tally.sent - 1) / seconds : null,
  };
  return { status: options.signal?.aborted === true ? 'interrupted' : 'completed', stats, startNs: tally.firstNs };
}

export async function loadExchanges(store: Store, name: string, plan: ReplayPlan): Promise<Exchange[]> {
  const capture = await getCapture(store, name);
  if (capture.httpExchanges === 0) throw new UsageError(`capture "${name}" has no HTTP exchanges: an HTTP replay takes a capture imported from a HAR file, or a pcap with HTTP/1.x over TCP`, { field: 'capture' });
  const rows = await store.query(
    'SELECT idx, ts_ns, method, url, request_headers, request_body FROM http_exchanges WHERE capture_id = $id AND request_body IS NOT NULL ORDER BY ts_ns, idx',
    { id: capture.captureId },
  );
  const chosen = seededRandom(plan.seed);
  const exchanges = rows
    .filter(() => plan.sample >= 1 || chosen() < plan.sample)
    .map((row) => {
      const url = new URL(str(row.url));
      const headers = Object.fromEntries((JSON.parse(str(row.request_headers)) as [string, string][]).filter(([name]) => !NOT_REPLAYED.has(name.toLowerCase()) && !name.startsWith(':')));
      return { idx: num(row.idx), tsNs: typeof row.ts_ns === 'bigint' ? row.ts_ns : 0n, method: str(row.method), path: `${url.pathname}${url.search}`, headers, body: row.request_body as Uint8Array };
    });
  if (exchanges.length === 0) throw new UsageError(`capture "${name}" has no request to replay (none recorded with its body)`, { field: 'capture' });
  return exchanges;
}

/** What a replay's sends came to, kept as counts and lateness figures, not as every send (those are in the store). */
interface SendTally {
  planned: number;
  sent: number;
  answered: number;
  errors: number;
  lateNs: LatencyHistogram;
  firstNs: bigint | undefined;
  lastNs: bigint | undefined;
}

/**
 * Sends every request at its scheduled time without waiting for answers before the next, with at most `connections`
 * in flight (one per connection, as HTTP/1.1 without pipelining has it): a request whose time comes while every
 * connection is busy waits for one, and that wait is its lateness, measured, not hidden in a queue. The sending runs
 * in a thread of its own (`http-send-worker.js`); this thread records what it reports, so a store's flush never delays
 * a send.
 */
async function sendAll(
  exchanges: readonly Exchange[],
  plan: ReplayPlan,
  to: { target: string; connections: number; answerTimeoutMs: number },
  runName: string,
  signal: AbortSignal | undefined,
  record: (send: HttpSend) => void,
): Promise<SendTally> {
  const { offsets, exchangeOf } = scheduleOf(exchanges, plan);
  const tally: SendTally = { planned: offsets.length, sent: 0, answered: 0, errors: 0, lateNs: new LatencyHistogram(), firstNs: undefined, lastNs: undefined };
  if (offsets.length === 0) return tally;
  const { shared, release } = abortFlag(signal);
  const worker = new Worker(new URL('./http-send-worker.js', import.meta.url), {
    workerData: { ...to, runName, exchanges: exchanges.map(({ method, path, headers, body }) => ({ method, path, headers, body })), offsetsNs: offsets, exchangeOf, shared, park: senderPark() },
  });
  let startNs = 0;
  const toSend = (r: WorkerResult): HttpSend => {
    const exchange = exchanges[exchangeOf[r.sendNo] as number] as Exchange;
    const actualNs = BigInt(Math.round(r.actualNs));
    const answer = r.error !== null || r.body === null ? null : { answeredNs: BigInt(Math.round(r.answeredNs)), status: r.status, bytes: r.body.length, hash: payloadHash(r.body), routedTo: r.routedTo, routeReason: r.routeReason, echoedRequestId: r.echoedRequestId, headers: r.headers };
    return {
      sendNo: r.sendNo,
      exchangeIdx: exchange.idx,
      loop: Math.floor(r.sendNo / exchanges.length),
      requestId: `${runName}-${r.sendNo}`,
      method: exchange.method,
      path: exchange.path,
      bodyBytes: exchange.body.length,
      bodyHash: payloadHash(exchange.body),
      scheduledNs: BigInt(Math.round(startNs + (offsets[r.sendNo] as number))),
      actualNs,
      answer,
      error: r.error,
    };
  };
  try {
    await sendingThreadDone<WorkerMessage>(
      worker,
      'the HTTP sending thread',
      (message) => {
        if (message.type === 'start') startNs = message.startNs;
        else if (message.type === 'results') {
          for (const result of message.results) {
            const send = toSend(result);
            record(send);
            tally.sent++;
            if (send.answer !== null) tally.answered++;
            if (send.error !== null) tally.errors++;
            tally.lateNs.record(Number(send.actualNs - send.scheduledNs));
            if (tally.firstNs === undefined || send.actualNs < tally.firstNs) tally.firstNs = send.actualNs;
            if (tally.lastNs === undefined || send.actualNs > tally.lastNs) tally.lastNs = send.actualNs;
          }
        }
      },
      (message) => new Error(`the HTTP sending thread failed: ${message}`),
    );
  } finally {
    release();
    await worker.terminate();
  }
  return tally;
}

interface WorkerResult {
  sendNo: number;
  actualNs: number;
  answeredNs: number;
  status: number;
  body: Uint8Array | null;
  headers: string;
  routedTo: string | null;
  routeReason: string | null;
  echoedRequestId: string | null;
  error: string | null;
}

type WorkerMessage = { type: 'start'; startNs: number } | { type: 'results'; results: WorkerResult[] } | { type: 'done'; startNs: number };

/** Each send's time into the plan and the exchange it sends, within the plan's duration. */
function scheduleOf(exchanges: readonly Exchange[], plan: ReplayPlan): { offsets: Float64Array; exchangeOf: Uint32Array } {
  const firstNs = exchanges[0]?.tsNs ?? 0n;
  const spanNs = Number((exchanges.at(-1)?.tsNs ?? 0n) - firstNs);
  const schedule = new Schedule(plan.pace, spanNs, exchanges.length);
  const offsets: number[] = [];
  const exchangeOf: number[] = [];
  for (let loop = 0, n = 0; loop < plan.loops; loop++) {
    for (const [index, exchange] of exchanges.entries()) {
      const offsetNs = schedule.offsetNs(n++, loop, Number(exchange.tsNs - firstNs)) ?? 0;
      if (plan.durationMs !== undefined && offsetNs > plan.durationMs * 1e6) break;
      offsets.push(offsetNs);
      exchangeOf.push(index);
    }
  }
  return { offsets: Float64Array.from(offsets), exchangeOf: Uint32Array.from(exchangeOf) };
}
