import { Pool } from 'undici';
import { getCapture } from '../../capture/capture-catalog.ts';
import { UsageError } from '../../core/errors.ts';
import { payloadHash } from '../../core/payload-hash.ts';
import { seededRandom } from '../../core/random.ts';
import { quantile } from '../../core/stats.ts';
import { RunSession } from '../../run/run-session.ts';
import type { WrittenRunStats } from '../../store/run-metadata.ts';
import type { RunStatus } from '../../store/runs.ts';
import { nextRunName } from '../../store/runs.ts';
import { num, str, type Store } from '../../store/store.ts';
import { describePace, Schedule, type ReplayPlan } from '../replay-plan.ts';
import { HttpSendWriter, type HttpSend } from './http-send-writer.ts';

/** Headers that belong to the recorded connection, or that the client sets itself, never replayed as recorded. */
const NOT_REPLAYED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'x-request-id']);

export interface HttpReplayOptions {
  store: Store;
  /** A capture imported from a HAR file. */
  capture: string;
  /** Where to send: the shadowing proxy under test (http://host:port). */
  target: string;
  plan: ReplayPlan;
  /** Connections to the target at most (requests beyond wait for one). */
  connections?: number;
  runName?: string;
  signal?: AbortSignal;
}

export interface HttpReplayStats {
  planned: number;
  sent: number;
  answered: number;
  errors: number;
  lateness: { p50Us: number; p99Us: number; maxUs: number };
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
    plan: { ...plan, description: describePace(plan.pace), portMap: {}, devices: '', ackTimeoutMs: 0 },
  });
  try {
    const replayed = await sendHttpReplay(session, { ...options, exchanges });
    await session.finish(replayed.status, storedStats(replayed.stats, plan), replayed.startNs);
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
  options: { store: Store; exchanges: readonly Exchange[]; target: string; plan: ReplayPlan; connections?: number; signal?: AbortSignal },
): Promise<{ status: 'completed' | 'interrupted'; stats: HttpReplayStats; startNs: bigint | undefined }> {
  const writer = await HttpSendWriter.create(options.store, session.runId);
  session.defer('http sends', async () => writer.close());
  const connections = options.connections ?? 64;
  const pool = new Pool(options.target, { connections });
  session.defer('connections', () => pool.close());
  const tally = await sendAll(options.exchanges, options.plan, pool, connections, session.name, options.signal, (send) => writer.add(send));
  const seconds = tally.firstNs === undefined || tally.lastNs === undefined ? 0 : Number(tally.lastNs - tally.firstNs) / 1e9;
  const stats: HttpReplayStats = {
    planned: tally.planned,
    sent: tally.sent,
    answered: tally.answered,
    errors: tally.errors,
    lateness: { p50Us: quantile(tally.lateUs, 0.5) ?? 0, p99Us: quantile(tally.lateUs, 0.99) ?? 0, maxUs: tally.lateUs.reduce((max, v) => Math.max(max, v), 0) },
    achievedRate: tally.sent > 1 && seconds > 0 ? (tally.sent - 1) / seconds : null,
  };
  return { status: options.signal?.aborted === true ? 'interrupted' : 'completed', stats, startNs: tally.firstNs };
}

/** Stored as a replay's counts are: an answer is what a UDP replay calls an ACK. */
export function storedStats(stats: HttpReplayStats, plan: ReplayPlan): WrittenRunStats {
  return {
    planned: stats.planned,
    sent: stats.sent,
    sendErrors: stats.errors,
    sendErrorsByKind: {},
    acks: stats.answered,
    askedRatePps: plan.pace.kind === 'rate' ? plan.pace.ratePps : null,
    achievedRatePps: stats.achievedRate,
    lateness: stats.lateness,
  };
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
  lateUs: number[];
  firstNs: bigint | undefined;
  lastNs: bigint | undefined;
}

/**
 * Sends every request at its scheduled time without waiting for answers before the next, with at most `connections`
 * in flight (one per connection, as HTTP/1.1 without pipelining has it): a request whose time comes while every
 * connection is busy waits for one, and that wait is its lateness, measured, not hidden in a queue.
 */
async function sendAll(exchanges: readonly Exchange[], plan: ReplayPlan, pool: Pool, connections: number, runName: string, signal: AbortSignal | undefined, record: (send: HttpSend) => void): Promise<SendTally> {
  const firstNs = exchanges[0]?.tsNs ?? 0n;
  const spanNs = Number((exchanges.at(-1)?.tsNs ?? 0n) - firstNs);
  const schedule = new Schedule(plan.pace, spanNs, exchanges.length);
  const offsets: number[] = [];
  for (let loop = 0, n = 0; loop < plan.loops; loop++) {
    for (const exchange of exchanges) {
      const offsetNs = schedule.offsetNs(n++, loop, Number(exchange.tsNs - firstNs)) ?? 0;
      if (plan.durationMs !== undefined && offsetNs > plan.durationMs * 1e6) break;
      offsets.push(offsetNs);
    }
  }
  const tally: SendTally = { planned: offsets.length, sent: 0, answered: 0, errors: 0, lateUs: [], firstNs: undefined, lastNs: undefined };
  const pending = new Set<Promise<void>>();
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  const startNs = process.hrtime.bigint();
  for (let sendNo = 0; sendNo < offsets.length; sendNo++) {
    if (signal?.aborted === true) break;
    const exchange = exchanges[sendNo % exchanges.length] as Exchange;
    const scheduledNs = startNs + BigInt(Math.round(offsets[sendNo] as number));
    await waitUntil(scheduledNs);
    while (inFlight >= connections) await new Promise<void>((resolve) => (slotFreed = resolve));
    inFlight++;
    const done = sendOne(pool, exchange, { sendNo, loop: Math.floor(sendNo / exchanges.length), requestId: `${runName}-${sendNo}`, scheduledNs }).then((send) => {
      record(send);
      tally.sent++;
      if (send.answer !== null) tally.answered++;
      if (send.error !== null) tally.errors++;
      tally.lateUs.push(Number(send.actualNs - send.scheduledNs) / 1000);
      if (tally.firstNs === undefined || send.actualNs < tally.firstNs) tally.firstNs = send.actualNs;
      if (tally.lastNs === undefined || send.actualNs > tally.lastNs) tally.lastNs = send.actualNs;
      inFlight--;
      const freed = slotFreed;
      slotFreed = undefined;
      freed?.();
    });
    pending.add(done);
    void done.finally(() => pending.delete(done));
  }
  await Promise.all(pending);
  return tally;
}

async function sendOne(pool: Pool, exchange: Exchange, at: { sendNo: number; loop: number; requestId: string; scheduledNs: bigint }): Promise<HttpSend> {
  const base = { sendNo: at.sendNo, exchangeIdx: exchange.idx, loop: at.loop, requestId: at.requestId, method: exchange.method, path: exchange.path, bodyBytes: exchange.body.length, bodyHash: payloadHash(exchange.body), scheduledNs: at.scheduledNs };
  const actualNs = process.hrtime.bigint();
  try {
    const answer = await pool.request({ path: exchange.path, method: exchange.method as 'GET', headers: { ...exchange.headers, 'x-request-id': at.requestId }, body: exchange.body.length > 0 ? exchange.body : null });
    const bytes = new Uint8Array(await answer.body.arrayBuffer());
    const header = (name: string): string | null => {
      const value = answer.headers[name];
      return typeof value === 'string' ? value : null;
    };
    return {
      ...base,
      actualNs,
      answer: { answeredNs: process.hrtime.bigint(), status: answer.statusCode, bytes: bytes.length, hash: payloadHash(bytes), routedTo: header('x-routed-to'), routeReason: header('x-route-reason'), echoedRequestId: header('x-request-id') },
      error: null,
    };
  } catch (error) {
    return { ...base, actualNs, answer: null, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Sleeps until `deadlineNs` on the monotonic clock: a timer for the bulk, the last millisecond in small steps. */
async function waitUntil(deadlineNs: bigint): Promise<void> {
  for (;;) {
    const leftMs = Number(deadlineNs - process.hrtime.bigint()) / 1e6;
    if (leftMs <= 0) return;
    await new Promise((resolve) => (leftMs > 2 ? setTimeout(resolve, leftMs - 1) : setImmediate(resolve)));
  }
}
