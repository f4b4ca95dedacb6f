// A fault-injecting shadowing HTTP proxy for the detection tests, written apart from src/relay/http on purpose: it
// answers each request with the live upstream's answer and sends a copy to the shadow without waiting for it, and
// with --refuse answers a share of the requests itself (502) without sending them anywhere. It shares no code with the
// project, so a test that catches its faults checks the verdict, not the proxy's own code.
//
//   PARITY_PROXY_HOST=... PARITY_PROXY_PORT=... PARITY_LIVE_URL=... PARITY_SHADOW_URL=... node fault-proxy.mjs [--refuse 0.1] [--seed N]
import http from 'node:http';
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
const refuse = flag('--refuse', 0);
// The same requests refused for the same seed and order.
const random = seededRandom(flag('--seed', 9));
const live = new URL(process.env.PARITY_LIVE_URL ?? '');
const shadow = process.env.PARITY_SHADOW_URL ? new URL(process.env.PARITY_SHADOW_URL) : null;
// A connection per request: a kept-alive one the upstream closes between requests fails the next (a race no retry
// here should paper over), and a copy lost so would be counted against the shadow, not the fault asked for.
const agent = new http.Agent({ keepAlive: false });

/** @typedef {{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }} Answer */

/**
 * The request as received, sent on to `upstream`; its answer handed to `done` (or null when it failed).
 * @param {URL} upstream
 * @param {http.IncomingMessage} req
 * @param {Buffer} body
 * @param {(answer: Answer | null) => void} done
 */
function forward(upstream, req, body, done) {
  const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
  delete headers.connection;
  const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (answer) => {
    /** @type {Buffer[]} */
    const chunks = [];
    answer.on('data', (chunk) => chunks.push(chunk));
    answer.on('end', () => done({ status: answer.statusCode ?? 502, headers: answer.headers, body: Buffer.concat(chunks) }));
    answer.on('error', () => done(null));
  });
  out.on('error', () => done(null));
  out.end(body);
}

const server = http.createServer((req, res) => {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (refuse > 0 && random() < refuse) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('refused by the fault proxy\n');
      return;
    }
    if (shadow) forward(shadow, req, body, () => undefined);
    forward(live, req, body, (answer) => {
      if (answer === null) {
        res.writeHead(502);
        res.end();
        return;
      }
      const headers = { ...answer.headers };
      delete headers.connection;
      delete headers['transfer-encoding'];
      headers['content-length'] = String(answer.body.length);
      res.writeHead(answer.status, headers);
      res.end(answer.body);
    });
  });
});
server.listen(Number(process.env.PARITY_PROXY_PORT), process.env.PARITY_PROXY_HOST, () => console.log(`fault proxy on ${process.env.PARITY_PROXY_HOST}:${process.env.PARITY_PROXY_PORT}`));
// eslint-disable-next-line no-restricted-properties -- a peer process of its own, stopped by the scenario with SIGTERM
process.on('SIGTERM', () => process.exit(0));
