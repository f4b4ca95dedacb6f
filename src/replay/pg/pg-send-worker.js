// A sending thread of the Postgres replay. It owns the connections of its share of the recorded sessions: it sends
// each statement at its scheduled time, in its session's order (each waits for the one before it to be answered), and
// reads the answers, and nothing else. Recording (DuckDB appends) stays on the main thread, which gets each send's
// times and answer in groups, so a DuckDB flush never holds a statement back. The sessions are shared between two of
// these (a loopback send costs the sender tens of microseconds of kernel time, the receiver's TCP work included).
// Plain JavaScript so that it loads in a worker without the TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { nowNs, waitUntil } from '../thread-clock.js';
import { ResultGroups, runSendingThread } from '../thread-results.js';
import { PgWireSession, replayTag } from './pg-wire-session.js';

/** @typedef {{ kind: 'simple' | 'extended', text: string, params: (string | Uint8Array | null)[], copyData: Uint8Array | null }} Statement */
/** @typedef {{ user: string, database: string, indexes: number[] }} Session */
/** @typedef {{ sendNo: number, actualNs: number, doneNs: number, tag: string | null, rowCount: number | null, sqlstate: string | null, failed: boolean }} Result */

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const options = /** @type {{ target: { host: string, port: number }, sessions: Session[], statements: Record<number, Statement>, total: number, loops: number, offsetsNs: Float64Array, limitNs: number, shared: SharedArrayBuffer }} */ (workerData);
// [0] stop (set by the main thread on an interrupt).
const shared = new Int32Array(options.shared);
const stopped = () => Atomics.load(shared, 0) !== 0;

/** @type {ResultGroups<Result>} */
const results = new ResultGroups(port);

/** Structured cloning turns a Buffer into a plain Uint8Array; pg-protocol binds only a Buffer as binary. */
const asParam = (/** @type {string | Uint8Array | null} */ value) => (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value);

async function run() {
  /** @type {PgWireSession[]} */
  const connections = [];
  // Connections open before the clock starts: a session's first statement is not late by its connection's setup.
  for (const session of options.sessions) connections.push(await PgWireSession.open(options.target, session.user, session.database));
  port.postMessage({ type: 'ready' });
  const startNs = await new Promise((resolve) => port.once('message', (/** @type {{ startNs: number }} */ message) => resolve(message.startNs)));
  let planned = 0;
  /** @param {Session} session @param {PgWireSession} connection */
  const runSession = async (session, connection) => {
    for (let loop = 0; loop < options.loops; loop++) {
      for (const index of session.indexes) {
        const sendNo = index + loop * options.total;
        const offsetNs = /** @type {number} */ (options.offsetsNs[sendNo]);
        if (offsetNs > options.limitNs || stopped()) return;
        planned++;
        await waitUntil(startNs + offsetNs, stopped);
        const statement = /** @type {Statement} */ (options.statements[index]);
        const actualNs = nowNs();
        const answer = await connection.run(statement.kind, `${replayTag(sendNo)}${statement.text}`, statement.params.map(asParam), statement.copyData);
        results.push({ sendNo, actualNs, doneNs: nowNs(), ...answer });
      }
    }
  };
  await Promise.all(options.sessions.map((session, i) => runSession(session, /** @type {PgWireSession} */ (connections[i]))));
  results.flush();
  for (const connection of connections) await connection.close();
  port.postMessage({ type: 'done', planned });
}

runSendingThread(port, run);
