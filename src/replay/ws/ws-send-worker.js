// The WebSocket replay's sending thread. It owns the connection to the relay agent's ingest and sends each frame at its
// scheduled time, and nothing else: recording stays on the main thread, which also runs a scenario's relay agent and
// gateways, whose work on every frame delayed the sends that shared the thread with it (a 10k frames/s run's p99
// lateness 1.6-2.0 ms there). Each send's time goes to the main thread in groups of rows. Plain JavaScript so that it
// loads in a worker without the TypeScript loader; the types are checked from JSDoc.
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';
import { nowNs, parkWaits, sendOnSchedule } from '../thread-clock.js';
import { ResultRows, runSendingThread } from '../thread-results.js';
import { WS_RESULT } from './ws-result-row.js';

/** How long the agent's ingest may take to answer the WebSocket upgrade; one that never does fails the run, not hangs it. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** How long the end waits for the socket to hand over what it holds and close. */
const CLOSE_WAIT_MS = 5_000;

const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
const options = /** @type {{ target: string, texts: string[], seqs: Float64Array, seqSpan: number, offsetsNs: Float64Array, shared: SharedArrayBuffer, park: import('../sender-wait.ts').SenderPark | undefined }} */ (workerData);
if (options.park !== undefined) parkWaits(options.park.addonPath, options.park.always);
// [0] stop (set by the main thread on an interrupt).
const shared = new Int32Array(options.shared);
const stopped = () => Atomics.load(shared, 0) !== 0;
const rows = new ResultRows(port, WS_RESULT.width);

/** A later loop's copy of a frame: numbered after the last loop's (a frame that is not JSON goes as it is). @param {string} text @param {number} seq */
function renumbered(text, seq) {
  try {
    return JSON.stringify({ ...JSON.parse(text), seq });
  } catch {
    return text;
  }
}

async function run() {
  const socket = new WebSocket(options.target, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  // A later error (the agent breaks the protocol, resets) closes the socket: frames sent after it are recorded as sent
  // and reach no gateway, which the analysis counts against the agent. Unlistened, it would end the thread.
  socket.on('error', () => undefined);
  const frames = options.texts.length;
  const startNs = await sendOnSchedule(port, options.offsetsNs, stopped, (sendNo) => {
    const index = sendNo % frames;
    const loop = Math.floor(sendNo / frames);
    const text = /** @type {string} */ (options.texts[index]);
    socket.send(loop === 0 ? text : renumbered(text, /** @type {number} */ (options.seqs[index]) + loop * options.seqSpan));
    const at = rows.claim();
    rows.rows[at + WS_RESULT.sendNo] = sendNo;
    rows.rows[at + WS_RESULT.actualNs] = nowNs();
  });
  rows.flush();
  // Every frame handed over before the connection closes (a close frame follows what the socket still holds).
  await new Promise((resolve) => {
    // An agent that closed the connection itself has nothing more to take.
    if (socket.readyState === WebSocket.CLOSED) {
      resolve(undefined);
      return;
    }
    const timer = setTimeout(resolve, CLOSE_WAIT_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    socket.close();
  });
  port.postMessage({ type: 'done', startNs });
}

runSendingThread(port, run);
