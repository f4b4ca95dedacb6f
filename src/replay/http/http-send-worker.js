// The HTTP replay's sending thread. It owns the connections to the proxy: it sends each request at its scheduled time
// (at most one in flight per connection) and reads the answers, and nothing else. Recording (hashing, DuckDB appends,
// whose flushes block for tens of milliseconds) stays on the main thread, which gets each send's times and answer in
// groups. Plain JavaScript so that it loads in a worker without the TypeScript loader; the types are checked from JSDoc.
import { parentPort, workerData } from 'node:worker_threads';
import { nowNs, parkWaits, sendOnSchedule } from '../thread-clock.js';
import { ResultGroups, runSendingThread } from '../thread-results.js';
import { Pool } from 'undici';
import { connectionsAtStart, readyConnections } from './ready-connections.js';
import { warmUp } from './warm-up.js';
import { noAnswerWithin } from '../answer-timeout.js';

/** @typedef {{ method: string, path: string, headers: Record<string, string>, body: Uint8Array }} Exchange */
/** @typedef {{ sendNo: number, actualNs: number, answeredNs: number, status: number, body: Uint8Array | null, headers: string, routedTo: string | null, routeReason: string | null, echoedRequestId: string | null, error: string | null }} Result */

/** Sends in a row before the event loop runs (answers are read), however late the plan is. */
const MAX_SENDS_WITHOUT_YIELD = 32;

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const options = /** @type {{ target: string, connections: number, answerTimeoutMs: number, runName: string, exchanges: Exchange[], offsetsNs: Float64Array, exchangeOf: Uint32Array, shared: SharedArrayBuffer, park: import('../sender-wait.ts').SenderPark | undefined }} */ (workerData);
if (options.park !== undefined) parkWaits(options.park.addonPath, options.park.always);
// [0] stop (set by the main thread on an interrupt).
const shared = new Int32Array(options.shared);
const stopped = () => Atomics.load(shared, 0) !== 0;

/** @type {ResultGroups<Result>} */
const results = new ResultGroups(port);

/**
 * What became of a request that got no answer, in words a finding can quote: a wait that ran out names the wait.
 * @param {unknown} error
 */
function failure(error) {
  const code = /** @type {{ code?: unknown }} */ (error ?? {}).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return noAnswerWithin(options.answerTimeoutMs);
  if (code === 'UND_ERR_BODY_TIMEOUT') return `the answer's body stalled for ${options.answerTimeoutMs / 1000} s (--answer-timeout)`;
  return error instanceof Error ? error.message : String(error);
}

/** @param {string | string[] | undefined} value */
const single = (value) => (typeof value === 'string' ? value : null);

async function run() {
  // Code and connections made ready before the clock starts, not during its first sends.
  await warmUp(options.exchanges);
  const ready = await readyConnections(options.target, connectionsAtStart(options.offsetsNs, options.connections));
  const pool = new Pool(options.target, { connections: options.connections, connect: ready.connect });
  let inFlight = 0;
  /** @type {(() => void) | undefined} */
  let slotFreed;
  /** @type {Set<Promise<void>>} */
  const pending = new Set();
  /** @param {number} sendNo @param {Exchange} exchange */
  const sendOne = async (sendNo, exchange) => {
    const actualNs = nowNs();
    /** @type {Result} */
    const result = { sendNo, actualNs, answeredNs: 0, status: 0, body: null, headers: '{}', routedTo: null, routeReason: null, echoedRequestId: null, error: null };
    try {
      // Both waits bounded: for the answer's head, and between the pieces of its body.
      const answer = await pool.request({
        path: exchange.path,
        method: /** @type {'GET'} */ (exchange.method),
        headers: { ...exchange.headers, 'x-request-id': `${options.runName}-${sendNo}` },
        body: exchange.body.length > 0 ? exchange.body : null,
        headersTimeout: options.answerTimeoutMs,
        bodyTimeout: options.answerTimeoutMs,
      });
      result.body = new Uint8Array(await answer.body.arrayBuffer());
      result.answeredNs = nowNs();
      result.status = answer.statusCode;
      result.headers = JSON.stringify(answer.headers);
      result.routedTo = single(answer.headers['x-routed-to']);
      result.routeReason = single(answer.headers['x-route-reason']);
      result.echoedRequestId = single(answer.headers['x-request-id']);
    } catch (error) {
      result.error = failure(error);
    }
    results.push(result);
    inFlight--;
    const freed = slotFreed;
    slotFreed = undefined;
    freed?.();
  };
  const startNs = await sendOnSchedule(port, options.offsetsNs, stopped, async (sendNo) => {
    while (inFlight >= options.connections) await new Promise((resolve) => (slotFreed = () => resolve(undefined)));
    // Stopped while this send waited for a connection: it is not sent (the answers in flight are still awaited).
    if (stopped()) return;
    inFlight++;
    const exchange = /** @type {Exchange} */ (options.exchanges[/** @type {number} */ (options.exchangeOf[sendNo])]);
    const done = sendOne(sendNo, exchange);
    pending.add(done);
    void done.finally(() => pending.delete(done));
  }, MAX_SENDS_WITHOUT_YIELD);
  await Promise.all(pending);
  results.flush();
  ready.release();
  await pool.close();
  port.postMessage({ type: 'done', startNs });
}

runSendingThread(port, run);
