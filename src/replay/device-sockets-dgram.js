// The devices' sockets on Node's dgram (see device-sockets.js).
import dgram from 'node:dgram';
import { nowNs, sleep } from './thread-clock.js';
import { DeviceBindError } from './device-sockets.js';

const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long the warm-up may take before sending starts anyway. */
const WARM_UP_MS = 2000;

/**
 * @param {import('./device-sockets.js').DeviceSocketOptions} options
 * @param {import('./device-sockets.js').DeviceHandlers} handlers
 * @returns {Promise<import('./device-sockets.js').DeviceSockets>}
 */
export async function openDgramDeviceSockets(options, handlers) {
  /** @type {dgram.Socket[]} */
  const sockets = [];
  let warmed = 0;
  /** @param {string} ip @param {number} index @returns {Promise<dgram.Socket>} */
  const bind = (ip, index) =>
    new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER_BYTES, sendBufferSize: UDP_BUFFER_BYTES });
      socket.once('error', (error) => reject(new DeviceBindError(ip, error.message)));
      socket.bind(0, ip, () => {
        socket.removeAllListeners('error');
        socket.on('error', (/** @type {NodeJS.ErrnoException} */ error) => handlers.error(error.code ?? error.message));
        const self = socket.address();
        socket.on('message', (payload, remote) => {
          if (remote.port === self.port && remote.address === self.address) warmed++;
          else handlers.reply(index, remote.address, remote.port, payload);
        });
        resolve(socket);
      });
    });
  for (const [index, ip] of options.localIps.entries()) sockets.push(await bind(ip, index));
  // Each socket's first send costs tens of microseconds more than the next (buffers, the send path's first run): a
  // datagram to itself pays that before the clock starts, and never leaves the host.
  for (const socket of sockets) socket.send(Buffer.alloc(0), socket.address().port, socket.address().address);
  const warmDeadline = Date.now() + WARM_UP_MS;
  while (warmed < sockets.length && Date.now() < warmDeadline) await sleep(1);
  // A device that sends to one relay port only is connected to it.
  await Promise.all(
    sockets.map((socket, index) => {
      const relayPort = options.connectPorts[index] ?? 0;
      return relayPort === 0 ? undefined : new Promise((resolve) => socket.connect(relayPort, options.relayHost, () => resolve(undefined)));
    }),
  );
  // Without a callback dgram drops the error of a send that fails at once (a connected socket's refusal): one shared
  // callback reports them.
  const sent = (/** @type {Error | null} */ error) => {
    if (error !== null) handlers.error(/** @type {NodeJS.ErrnoException} */ (error).code ?? error.message);
  };
  return {
    ports: sockets.map((socket) => socket.address().port),
    sendDue: undefined,
    send(index, payload, from, end, relayPort) {
      const socket = /** @type {dgram.Socket} */ (sockets[index]);
      const issuedNs = nowNs();
      // A connected socket sends without an address lookup (deferred to the next tick on every unconnected send).
      if (options.connectPorts[index] === relayPort) socket.send(payload.subarray(from, end), sent);
      else socket.send(payload.subarray(from, end), relayPort, options.relayHost, sent);
      return issuedNs;
    },
    close: () => Promise.all(sockets.map((socket) => new Promise((resolve) => socket.close(() => resolve(undefined))))).then(() => undefined),
  };
}
