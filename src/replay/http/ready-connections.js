// Connections to an HTTP replay's target opened before its clock starts. undici opens a pool's connections as
// requests need them, so the first requests of every replay waited for their connection's handshake (and undici's
// first use of its code) on the clock: at 5k req/s into nginx the first quarter second's sends were late by up to
// 14.5 ms where the rest of the run's p99 was 0.35 ms (2026-12-03). The sockets are made by undici's own connector,
// with the options it would use, and handed to the pool as it asks for connections; any it has not asked for soon
// after the start are closed, so that none sits idle until the target's idle timeout and is handed over then.
// Plain JavaScript: the sending thread loads it without the TypeScript loader.
import { buildConnector } from 'undici';

/** How long a connection opened ahead waits to be taken before it is closed. */
const READY_FOR_MS = 1_000;

/** @typedef {import('node:net').Socket} Socket */

/**
 * Opens `count` connections to `target` (as undici's connector makes them), and returns the connector a Pool takes
 * (`connect` option): it hands out those connections first, each still open, then connects anew.
 * @param {string} target
 * @param {number} count
 * @returns {Promise<{ connect: buildConnector.connector, waiting: () => number, release: () => void }>}
 */
export async function readyConnections(target, count) {
  const connectAnew = buildConnector({});
  const url = new URL(target);
  // As undici's client asks its connector: an IPv6 literal without its brackets.
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, url.hostname.indexOf(']')) : url.hostname;
  /** @type {buildConnector.Options} */
  const options = { hostname, host: url.host, protocol: url.protocol, port: url.port, localAddress: null };
  /** @type {(Socket | undefined)[]} */
  const opened = await Promise.all(
    Array.from({ length: count }, () =>
      new Promise((resolve) => {
        connectAnew(options, (error, socket) => {
          if (error !== null || socket === null) resolve(undefined);
          else resolve(/** @type {Socket} */ (socket).on('error', () => undefined));
        });
      }),
    ),
  );
  /** @type {Socket[]} */
  const ready = opened.filter((socket) => socket !== undefined);
  // One the target closes while it waits leaves the queue as soon as this thread sees it closed.
  for (const socket of ready) {
    socket.once('close', () => {
      const at = ready.indexOf(socket);
      if (at >= 0) ready.splice(at, 1);
    });
  }
  const release = () => {
    for (const socket of ready.splice(0)) socket.destroy();
  };
  const expiry = setTimeout(release, READY_FOR_MS);
  expiry.unref();
  /** @type {buildConnector.connector} */
  const connect = (asked, callback) => {
    while (ready.length > 0) {
      const socket = /** @type {Socket} */ (ready.shift());
      // Nor one closing whose close event has not come yet: a request written to it would fail.
      if (socket.destroyed || socket.readableEnded || !socket.writable) {
        socket.destroy();
        continue;
      }
      globalThis.queueMicrotask(() => callback(null, socket));
      return;
    }
    connectAnew(asked, callback);
  };
  return { connect, waiting: () => ready.length, release };
}

/**
 * How many connections the plan's first 100 ms need, at most `connections`: a slow replay opens one or two ahead, a
 * fast one every connection it may use.
 * @param {Float64Array} offsetsNs
 * @param {number} connections
 */
export function connectionsAtStart(offsetsNs, connections) {
  let due = 0;
  while (due < offsetsNs.length && /** @type {number} */ (offsetsNs[due]) < 100_000_000) due++;
  return Math.max(1, Math.min(connections, due));
}
