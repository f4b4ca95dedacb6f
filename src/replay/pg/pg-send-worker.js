// A sending thread of the Postgres replay. It owns the connections of its share of the recorded sessions: it sends
// each statement at its scheduled time, in its session's order (each waits for the one before it to be answered), and
// reads the answers, and nothing else. Recording (DuckDB appends) stays on the main thread, which gets each send's
// times and answer in groups of rows, so a DuckDB flush never holds a statement back. There is one of these per four
// cores, the sessions shared between them (pg-replay.ts, SENDING_THREADS). Plain JavaScript so that it loads in a
// worker without the TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { nowNs, waitUntil } from '../thread-clock.js';
import { ResultRows, runSendingThread } from '../thread-results.js';
import { StatementBytes } from './pg-statement-bytes.js';
import { PgWireSession, replayTag } from './pg-wire-session.js';
import { PG_RESULT, PG_RESULT_WIDTH, PG_SEND_FAILED, PG_COPY_REFUSED, PG_TIMED_OUT, PG_SESSION_ENDED } from './pg-result-row.js';

/** @typedef {{ kind: 'simple' | 'extended', text: string, params: (string | Uint8Array | null)[], copyData: Uint8Array | null }} Statement */
/** @typedef {{ user: string, database: string, indexes: number[] }} Session */

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const options = /** @type {{ target: { host: string, port: number }, answerTimeoutMs: number, sessions: Session[], statements: Record<number, Statement>, total: number, loops: number, offsetsNs: Float64Array, limitNs: number, shared: SharedArrayBuffer }} */ (workerData);
// [0] stop (set by the main thread on an interrupt).
const shared = new Int32Array(options.shared);
const stopped = () => Atomics.load(shared, 0) !== 0;

const results = new ResultRows(port, PG_RESULT_WIDTH);

async function run() {
  /** @type {Map<number, StatementBytes>} */
  const bytesOf = new Map();
  for (const [index, statement] of Object.entries(options.statements)) bytesOf.set(Number(index), new StatementBytes(statement.kind, statement.text, statement.params));
  /** @type {PgWireSession[]} */
  const connections = [];
  // Connections open before the clock starts: a session's first statement is not late by its connection's setup.
  for (const session of options.sessions) connections.push(await PgWireSession.open(options.target, session.user, session.database, options.answerTimeoutMs));
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
        if (startNs + offsetNs > nowNs()) await waitUntil(startNs + offsetNs, stopped);
        const statement = /** @type {Statement} */ (options.statements[index]);
        const bytes = /** @type {StatementBytes} */ (bytesOf.get(index)).withTag(replayTag(sendNo));
        const actualNs = nowNs();
        const answer = await connection.run(statement.kind, bytes, statement.copyData);
        const at = results.claim();
        const row = results.rows;
        row[at + PG_RESULT.sendNo] = sendNo;
        row[at + PG_RESULT.actualNs] = actualNs;
        row[at + PG_RESULT.doneNs] = nowNs();
        row[at + PG_RESULT.commandText] = results.stringId(answer.commandText);
        row[at + PG_RESULT.sqlstate] = results.stringId(answer.sqlstate);
        row[at + PG_RESULT.flags] = (answer.failed ? PG_SEND_FAILED : 0) | (answer.copyRefused ? PG_COPY_REFUSED : 0) | (answer.timedOut ? PG_TIMED_OUT : 0) | (answer.notSent ? PG_SESSION_ENDED : 0);
      }
    }
  };
  await Promise.all(options.sessions.map((session, i) => runSession(session, /** @type {PgWireSession} */ (connections[i]))));
  results.flush();
  for (const connection of connections) await connection.close();
  port.postMessage({ type: 'done', planned });
}

runSendingThread(port, run);
