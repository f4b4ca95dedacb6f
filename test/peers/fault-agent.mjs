// A fault-injecting WebSocket relay agent for the detection tests, written apart from src/relay/ws on purpose: it
// takes telemetry frames on its ingest and passes each, as received, to every gateway in RELAY_BACKENDS, and with
// --drop-ingest drops a share of them as they arrive, before any copy (an agent that sheds load at its door). It
// answers the fan-out spec's /debug/targets and /debug/parity with honest counts of what it sent. It shares no code
// with the project, so a test that catches its faults checks the verdict, not the agent's own code.
//
//   RELAY_BACKENDS=ws://...,ws://... RELAY_INGEST_PORT=... RELAY_DEBUG_PORT=... node fault-agent.mjs [--drop-ingest 0.08] [--seed N]
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { seededRandom } from './seeded-random.mjs';

const args = process.argv.slice(2);
/**
 * @param {string} name
 * @param {number} fallback
 */
const flag = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const dropIngest = flag('--drop-ingest', 0);
// The same frames dropped for the same seed and order.
const random = seededRandom(flag('--seed', 11));
const urls = (process.env.RELAY_BACKENDS ?? '').split(',').filter((url) => url !== '');
const ingestPort = Number(process.env.RELAY_INGEST_PORT ?? 8766);
const debugPort = Number(process.env.RELAY_DEBUG_PORT ?? 8765);

/** @typedef {{ url: string; socket: WebSocket | null; waiting: string[]; sent: number; acked: number }} Target */

/** @type {Target[]} */
const targets = urls.map((url) => ({ url, socket: null, waiting: [], sent: 0, acked: 0 }));

/** @param {Target} target */
function connect(target) {
  const socket = new WebSocket(target.url);
  socket.on('open', () => {
    target.socket = socket;
    for (const text of target.waiting.splice(0)) send(target, text);
  });
  socket.on('message', () => target.acked++);
  socket.on('error', () => undefined);
  socket.on('close', () => {
    target.socket = null;
    setTimeout(() => connect(target), 200);
  });
}

/**
 * @param {Target} target
 * @param {string} text
 */
function send(target, text) {
  if (target.socket === null || target.socket.readyState !== WebSocket.OPEN) {
    target.waiting.push(text);
    return;
  }
  target.socket.send(text);
  target.sent++;
}

for (const target of targets) connect(target);

const ingest = new WebSocketServer({ host: '127.0.0.1', port: ingestPort });
ingest.on('connection', (socket) =>
  socket.on('message', (data) => {
    if (dropIngest > 0 && random() < dropIngest) return;
    const text = data.toString();
    for (const target of targets) send(target, text);
  }),
);

const debug = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  /** @type {Record<string, unknown>} */
  const views = {
    '/debug/targets': {
      mode: 'parallel',
      primaryIndex: 0,
      killSwitch: false,
      targets: targets.map((t) => ({ url: t.url, enabled: true, state: t.socket === null ? 'disconnected' : 'connected', queueSize: t.waiting.length, counters: { sent: t.sent, acked: t.acked, failed: 0, dropped: 0 } })),
    },
    '/debug/parity': { ackLatency: {} },
  };
  const view = views[path ?? ''];
  res.writeHead(view === undefined ? 404 : 200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(view ?? { error: 'no such endpoint' }));
});
debug.listen(debugPort, '127.0.0.1');

const stop = () => {
  for (const target of targets) target.socket?.terminate();
  ingest.close();
  debug.close();
  // eslint-disable-next-line no-restricted-properties -- a peer process of its own, stopped by the scenario with a signal
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
