// The least a mirroring relay written on Node's `dgram` can do, as a benchmark peer: what the reference relay's CPU per
// packet would be with none of its own work (routes, budgets, ACK matching, timeouts, counters, logs). Written apart
// from src/relay on purpose, so it measures Node's datagram path and nothing of ours.
//
//   node node-mirror.mjs <listen ip> <port> <primary ip> <mirror ip>
//
// Each device gets a socket connected to the primary, whose replies go back to the device from the listening socket;
// a copy of every datagram goes to the mirror from one connected socket, whose replies are read and dropped (Node
// reads every socket it binds). Prints `ready` once bound; exits on SIGINT or SIGTERM.
import dgram from 'node:dgram';

const [listenIp, portText, primaryIp, mirrorIp] = process.argv.slice(2);
const port = Number(portText);
if (listenIp === undefined || primaryIp === undefined || mirrorIp === undefined || !(port > 0 && port < 65536)) {
  process.stderr.write('usage: node node-mirror.mjs <listen ip> <port> <primary ip> <mirror ip>\n');
  process.exitCode = 2;
} else {
  relay(listenIp, port, primaryIp, mirrorIp);
}

/** @typedef {{ socket: dgram.Socket, waiting: Buffer[] | undefined }} Upstream */

/**
 * @param {string} listenIp
 * @param {number} port
 * @param {string} primaryIp
 * @param {string} mirrorIp
 */
function relay(listenIp, port, primaryIp, mirrorIp) {
  const BUFFER_BYTES = 8 * 1024 * 1024;
  const listener = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER_BYTES, sendBufferSize: BUFFER_BYTES });
  /** @type {dgram.Socket[]} */
  const sockets = [listener];
  /**
   * A socket connected to `ip`. It sends only once connect() completes: datagrams before that wait in `waiting`.
   * @param {string} ip
   * @param {(reply: Buffer) => void} onReply
   * @returns {Upstream}
   */
  const connectedSocket = (ip, onReply) => {
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    /** @type {Upstream} */
    const upstream = { socket, waiting: [] };
    socket.on('message', onReply);
    socket.connect(port, ip, () => {
      for (const payload of upstream.waiting ?? []) socket.send(payload);
      upstream.waiting = undefined;
    });
    return upstream;
  };
  /**
   * @param {Upstream} upstream
   * @param {Buffer} payload
   */
  const send = (upstream, payload) => {
    if (upstream.waiting === undefined) upstream.socket.send(payload);
    else upstream.waiting.push(payload);
  };
  const stop = () => {
    for (const socket of sockets) socket.close();
  };

  const mirror = connectedSocket(mirrorIp, () => undefined);
  /** @type {Map<string, Upstream>} */
  const toPrimary = new Map();
  listener.on('message', (payload, device) => {
    const key = `${device.address}:${device.port}`;
    let upstream = toPrimary.get(key);
    if (upstream === undefined) {
      const { address, port: devicePort } = device;
      upstream = connectedSocket(primaryIp, (ack) => listener.send(ack, devicePort, address));
      toPrimary.set(key, upstream);
    }
    send(upstream, payload);
    send(mirror, payload);
  });
  listener.on('error', (error) => {
    process.stderr.write(`node-mirror: ${error.message}\n`);
    process.exitCode = 1;
    stop();
  });
  listener.bind(port, listenIp, () => process.stdout.write('ready\n'));
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, stop);
}
