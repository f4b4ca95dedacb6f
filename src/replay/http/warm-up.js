// The HTTP sending thread's code made ready before its clock: the replay's own requests, a few hundred of them, sent
// through undici to a throwaway server of the thread's own on loopback, so that V8 has compiled undici's request path
// and its HTTP parser before the first scheduled send instead of during the first ones. Nothing of it reaches the
// target. Plain JavaScript: the sending thread loads it without the TypeScript loader.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const WARM_UP_REQUESTS = 512;
const WARM_UP_CONNECTIONS = 4;

/** @typedef {import('./http-send-worker.js').Exchange} Exchange */

/**
 * Sends the exchanges in turn (from the first, as many as WARM_UP_REQUESTS) to a server on 127.0.0.1 that answers
 * each with a small JSON body, reading every answer as the replay does. A machine where it cannot listen there only
 * misses the warm-up.
 * @param {readonly Exchange[]} exchanges
 */
export async function warmUp(exchanges) {
  if (exchanges.length === 0) return;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.end('{"ok":true}'));
  });
  try {
    await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', () => resolve(undefined)));
  } catch {
    return;
  }
  const address = server.address();
  const pool = new Pool(`http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`, { connections: WARM_UP_CONNECTIONS });
  try {
    /** @type {Promise<void>[]} */
    const inFlight = [];
    for (let i = 0; i < WARM_UP_REQUESTS; i++) {
      const exchange = /** @type {Exchange} */ (exchanges[i % exchanges.length]);
      inFlight.push(
        pool
          .request({ path: exchange.path, method: /** @type {'GET'} */ (exchange.method), headers: { ...exchange.headers, 'x-request-id': `warm-up-${i}` }, body: exchange.body.length > 0 ? exchange.body : null })
          .then(async (answer) => {
            await answer.body.arrayBuffer();
            JSON.stringify(answer.headers);
          })
          .catch(() => undefined),
      );
      if (inFlight.length >= WARM_UP_CONNECTIONS) await inFlight.shift();
    }
    await Promise.all(inFlight);
  } finally {
    await pool.close().catch(() => undefined);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(() => resolve(undefined)));
  }
}
