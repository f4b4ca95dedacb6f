// The devices' sockets on the relay's datagram path in C (src/core/udp-io/udp-io.c; see device-sockets.js). A send is one
// system call with the payload's bytes given by offset, so the sending loop allocates nothing per packet (with dgram,
// a view and a libuv request per send: young-generation garbage whose collections stop the thread); replies are read
// in batches of up to 64.
import { createRequire } from 'node:module';
import { getSystemErrorName } from 'node:util';
import { nowNs, sleep } from './thread-clock.js';
import { DeviceBindError } from './device-sockets.js';
import { Ipv4Addresses, ipv4Number, wouldBlock } from '../core/udp-io/ipv4.js';
import { replyRingLayout } from './reply-ring.js';

const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
const WARM_UP_MS = 2000;
const SLOT_BYTES = 65_536;
const BATCH = 64;
/** udp-io.ts's READABLE: this thread loads no TypeScript. */
const READABLE = 1;
/** A send that meets a full socket buffer is tried again for this long (dgram would queue it), then counted as failed. */
const FULL_BUFFER_RETRY_NS = 5_000_000;

/** @typedef {import('../core/udp-io/udp-io.ts').UdpIo} UdpIo */
/** @typedef {import('../core/udp-io/udp-io.ts').UdpWatch} UdpWatch */

/**
 * @param {string} udpIoPath
 * @param {import('./device-sockets.js').DeviceSocketOptions} options
 * @param {import('./device-sockets.js').DeviceHandlers} handlers
 * @returns {Promise<import('./device-sockets.js').DeviceSockets>}
 */
export async function openNativeDeviceSockets(udpIoPath, options, handlers) {
  const io = /** @type {UdpIo} */ (createRequire(import.meta.url)(udpIoPath));
  const relayIp = ipv4Number(options.relayHost);
  const slab = Buffer.allocUnsafe(SLOT_BYTES * BATCH);
  const lengths = new Int32Array(BATCH);
  const senders = new Uint32Array(2 * BATCH);
  const stamps = new Float64Array(BATCH);
  /** @type {number[]} */
  const fds = [];
  /** @type {number[]} */
  const ports = [];
  /** @type {UdpWatch[]} */
  const watches = [];
  let warmed = 0;
  const addresses = new Ipv4Addresses();
  // Each device's own address as a number, for telling its warm-up datagram from a reply without converting per read.
  const selfIps = options.localIps.map((ip) => ipv4Number(ip));
  /** @param {number} index */
  const read = (index) => {
    const fd = /** @type {number} */ (fds[index]);
    const selfIp = /** @type {number} */ (selfIps[index]);
    for (;;) {
      const count = io.recv(fd, slab, SLOT_BYTES, lengths, senders, stamps);
      if (count < 0) {
        handlers.error(getSystemErrorName(count));
        return;
      }
      for (let i = 0; i < count; i++) {
        const ip = /** @type {number} */ (senders[2 * i]);
        const port = /** @type {number} */ (senders[2 * i + 1]);
        if (ip === selfIp && port === ports[index]) {
          warmed++;
          continue;
        }
        const length = Math.max(0, /** @type {number} */ (lengths[i]));
        const stamp = /** @type {number} */ (stamps[i]);
        if (handlers.replyBytes?.(index, ip, port, slab, i * SLOT_BYTES, length, stamp > 0 ? stamp : undefined) === true) continue;
        // A buffer of its own: the reply is posted to the main thread, and a view into a shared one would copy all of it.
        const payload = new Uint8Array(length);
        slab.copy(payload, 0, i * SLOT_BYTES, i * SLOT_BYTES + length);
        handlers.reply(index, addresses.text(ip), port, payload, stamp > 0 ? stamp : undefined);
      }
      if (count < BATCH) return;
    }
  };
  try {
    for (const [index, ip] of options.localIps.entries()) {
      // Replies carry the kernel's arrival time: the thread reads them between its runs of sends, up to a millisecond
      // later, and a reply's time is the device's round trip.
      const fd = io.open(ipv4Number(ip), 0, UDP_BUFFER_BYTES, true);
      if (fd < 0) throw new DeviceBindError(ip, `bind ${getSystemErrorName(fd)} ${ip}`);
      fds.push(fd);
      ports.push(io.localPort(fd));
      const watch = io.watch(fd, READABLE, () => read(index));
      if (typeof watch === 'number') {
        io.closeFd(fd);
        throw new DeviceBindError(ip, `poll ${getSystemErrorName(watch)} ${ip}`);
      }
      watches.push(watch);
    }
    // The first send of each socket pays for its buffers and the send path's first run: a datagram to itself first.
    for (const [index, fd] of fds.entries()) io.send(fd, slab, 0, 0, ipv4Number(/** @type {string} */ (options.localIps[index])), /** @type {number} */ (ports[index]));
    const warmDeadline = Date.now() + WARM_UP_MS;
    while (warmed < fds.length && Date.now() < warmDeadline) await sleep(1);
    for (const [index, fd] of fds.entries()) {
      const relayPort = options.connectPorts[index] ?? 0;
      if (relayPort !== 0 && io.connect(fd, relayIp, relayPort) < 0) options.connectPorts[index] = 0;
    }
  } catch (error) {
    for (const watch of watches) io.close(watch);
    throw error;
  }
  const socketFds = Int32Array.from(fds);
  const connected = Uint16Array.from(fds, (_, index) => options.connectPorts[index] ?? 0);
  const frame = new Float64Array(8);
  // Replies read inside sendDue's spun waits, straight into the reply ring (without it, or without the epoll set, only
  // between runs of sends, through the watches above).
  const spunReads = spunReplyReading(io, options.replyRing, socketFds, selfIps, ports);
  return {
    ports,
    sendDue(batch, from, to, startNs, durationNs, actualNs, stop, spinNs, budgetNs) {
      frame[0] = from;
      frame[1] = to;
      frame[2] = startNs;
      frame[3] = durationNs;
      frame[4] = relayIp;
      frame[6] = spinNs;
      frame[7] = budgetNs;
      const sent = spunReads === undefined
        ? io.sendDue(socketFds, connected, batch.device, batch.relayPort, batch.payload, batch.payloadEnd, batch.offsetNs, actualNs, frame, stop)
        : io.sendDue(socketFds, connected, batch.device, batch.relayPort, batch.payload, batch.payloadEnd, batch.offsetNs, actualNs, frame, stop, ...spunReads.args);
      if (spunReads !== undefined) spunReads.reportErrors(handlers);
      // Only arguments it cannot use give a negative count: this file's mistake, never the network's.
      if (sent < 0) throw new Error(`sendDue: ${getSystemErrorName(sent)}: packets ${from}..${to} of a batch of ${batch.payloadEnd.length}`);
      const failure = /** @type {number} */ (frame[5]);
      // A full buffer is the caller's to retry (send does, for a while); any other failure is reported as send reports
      // it, and the packet is done: a connected socket's pending error (a refusal) is consumed by the send it fails.
      if (failure === 0 || wouldBlock(failure)) return sent;
      handlers.error(getSystemErrorName(failure));
      actualNs[from + sent] = nowNs();
      return sent + 1;
    },
    send(index, payload, from, end, relayPort) {
      const fd = /** @type {number} */ (fds[index]);
      const connected = options.connectPorts[index] === relayPort;
      let issuedNs = nowNs();
      let result = io.send(fd, payload, from, end - from, connected ? 0 : relayIp, connected ? 0 : relayPort);
      if (result >= 0) return issuedNs;
      const giveUpNs = issuedNs + FULL_BUFFER_RETRY_NS;
      while (wouldBlock(result) && (issuedNs = nowNs()) < giveUpNs) result = io.send(fd, payload, from, end - from, connected ? 0 : relayIp, connected ? 0 : relayPort);
      if (result < 0) handlers.error(getSystemErrorName(result));
      return issuedNs;
    },
    async close() {
      if (spunReads !== undefined) io.closeFd(spunReads.epfd);
      // Each socket is closed when io.close returns (udp-io.c): the devices' addresses are free for the next run.
      for (const watch of watches) io.close(watch);
    },
  };
}

/** Errors of the sockets sendDue may meet between two reports; past that it leaves them on their sockets. */
const SPUN_ERRORS = 64;

/**
 * What sendDue needs to read replies into the ring inside its spun waits: its extra arguments, the epoll set's
 * descriptor, and the report of the sockets' errors it met (a refusal after a send, as a read here would report it).
 * Undefined without a ring, or when the epoll set cannot be made.
 * @param {UdpIo} io @param {SharedArrayBuffer | undefined} ring @param {Int32Array} sockets @param {number[]} selfIps
 * @param {number[]} ports
 */
function spunReplyReading(io, ring, sockets, selfIps, ports) {
  if (ring === undefined) return undefined;
  const epfd = io.replySet(sockets);
  if (epfd < 0) return undefined;
  const errors = new Int32Array(SPUN_ERRORS + 1);
  /** @type {[Uint8Array, Uint32Array, Uint32Array, Uint16Array, Int32Array, number]} */
  const args = [new Uint8Array(ring), replyRingLayout(), Uint32Array.from(selfIps), Uint16Array.from(ports), errors, epfd];
  return {
    epfd,
    args,
    /** @param {import('./device-sockets.js').DeviceHandlers} handlers */
    reportErrors(handlers) {
      const count = /** @type {number} */ (errors[0]);
      if (count === 0) return;
      errors[0] = 0;
      for (let i = 1; i <= count; i++) handlers.error(getSystemErrorName(/** @type {number} */ (errors[i])));
    },
  };
}
