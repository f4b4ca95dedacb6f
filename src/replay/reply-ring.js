// The replies the sending thread reads (the devices' ACKs), handed to the main thread in memory both threads share: a
// ring of records (device, sender's address and port, arrival time, where the bytes are) and a ring of payload bytes,
// written by the sending thread alone and read by the main thread alone. Posted as arrays with a buffer per reply,
// they were the sending thread's garbage: at 50k ACKs a second its collector stopped it for 1.6-3 ms every second
// (docs/performance.md). When the ring is full the sending thread hands replies over the old way; none is lost.
// Plain JavaScript so that the sending thread loads it without the TypeScript loader; the types are checked from JSDoc.

import { touchPages } from './touched-memory.js';

/** Records the ring holds: a power of two, as the payload bytes are. */
export const REPLY_RECORDS = 65_536;
/** Payload bytes it holds: a power of two, so that positions computed from 32-bit counters that wrap stay right. */
export const REPLY_PAYLOAD_BYTES = 8 * 1024 * 1024;

// The header's counters, each a 32-bit count that wraps: records written and read, payload bytes written and read
// (counting the end of the region skipped when a payload does not fit before it).
const WRITTEN = 0;
const READ = 1;
const BYTES_WRITTEN = 2;
const BYTES_READ = 3;
const HEADER_BYTES = 16;

/** Byte offsets of the ring's parts in its memory, after the header: widest elements first, so each is aligned. */
function offsets() {
  const tsNs = HEADER_BYTES;
  const device = tsNs + REPLY_RECORDS * 8;
  const ip = device + REPLY_RECORDS * 4;
  const payloadAt = ip + REPLY_RECORDS * 4;
  const length = payloadAt + REPLY_RECORDS * 4;
  const port = length + REPLY_RECORDS * 4;
  const payload = port + REPLY_RECORDS * 2;
  return { tsNs, device, ip, payloadAt, length, port, payload, end: payload + REPLY_PAYLOAD_BYTES };
}

/**
 * Where each part of the ring lies, for udp-io.c's reading of replies (sendDue): records, payload bytes, then the byte
 * offsets of the arrival times, devices, addresses, payload positions, lengths, ports and payloads.
 */
export function replyRingLayout() {
  const at = offsets();
  return Uint32Array.of(REPLY_RECORDS, REPLY_PAYLOAD_BYTES, at.tsNs, at.device, at.ip, at.payloadAt, at.length, at.port, at.payload);
}

/** @param {SharedArrayBuffer} memory */
function views(memory) {
  const at = offsets();
  return {
    header: new Int32Array(memory, 0, 4),
    tsNs: new Float64Array(memory, at.tsNs, REPLY_RECORDS),
    device: new Uint32Array(memory, at.device, REPLY_RECORDS),
    ip: new Uint32Array(memory, at.ip, REPLY_RECORDS),
    payloadAt: new Uint32Array(memory, at.payloadAt, REPLY_RECORDS),
    length: new Uint32Array(memory, at.length, REPLY_RECORDS),
    port: new Uint16Array(memory, at.port, REPLY_RECORDS),
    payload: new Uint8Array(memory, at.payload, REPLY_PAYLOAD_BYTES),
  };
}

/** The shared memory of one ring. */
export function replyRingMemory() {
  return new SharedArrayBuffer(offsets().end);
}

/**
 * Maps in the parts of a reply ring that `replies` replies of `payloadBytes` in all can use, before the run's clock
 * starts (touched-memory.js): the sending thread writes them from the start of each part.
 * @param {SharedArrayBuffer} memory @param {number} replies @param {number} payloadBytes
 */
export function touchReplyRing(memory, replies, payloadBytes) {
  const ring = views(memory);
  for (const array of [ring.tsNs, ring.device, ring.ip, ring.payloadAt, ring.length, ring.port]) touchPages(array, replies);
  touchPages(ring.payload, payloadBytes);
}

/** The sending thread's end: it adds replies, without allocating. */
export class ReplyRingWriter {
  /** @param {SharedArrayBuffer} memory */
  constructor(memory) {
    this.ring = views(memory);
  }

  /**
   * Adds a reply to device `device` from `ip`:`port` (the address as a number), its bytes `from`..`from + length` of
   * `source`, arrived at `tsNs`; false, with nothing written, when the ring has no room for it.
   * @param {number} device @param {number} ip @param {number} port @param {Buffer} source @param {number} from
   * @param {number} length @param {number} tsNs
   * @returns {boolean}
   */
  add(device, ip, port, source, from, length, tsNs) {
    const ring = this.ring;
    const written = Atomics.load(ring.header, WRITTEN) >>> 0;
    if (((written - (Atomics.load(ring.header, READ) >>> 0)) >>> 0) >= REPLY_RECORDS) return false;
    let bytesWritten = Atomics.load(ring.header, BYTES_WRITTEN) >>> 0;
    const free = REPLY_PAYLOAD_BYTES - ((bytesWritten - (Atomics.load(ring.header, BYTES_READ) >>> 0)) >>> 0);
    let at = bytesWritten % REPLY_PAYLOAD_BYTES;
    // A payload is kept whole: one that does not fit before the end goes to the start, the end left unused.
    const skipped = at + length > REPLY_PAYLOAD_BYTES ? REPLY_PAYLOAD_BYTES - at : 0;
    if (skipped + length > free) return false;
    if (skipped > 0) at = 0;
    bytesWritten = (bytesWritten + skipped + length) >>> 0;
    source.copy(ring.payload, at, from, from + length);
    const slot = written % REPLY_RECORDS;
    ring.tsNs[slot] = tsNs;
    ring.device[slot] = device;
    ring.ip[slot] = ip;
    ring.port[slot] = port;
    ring.payloadAt[slot] = at;
    ring.length[slot] = length;
    // The counters last: the main thread reads nothing of a record before it counts as written.
    Atomics.store(ring.header, BYTES_WRITTEN, bytesWritten | 0);
    Atomics.store(ring.header, WRITTEN, (written + 1) | 0);
    return true;
  }

  /** Replies written so far (a 32-bit count that wraps), by this writer or by udp-io.c's. */
  get written() {
    return Atomics.load(this.ring.header, WRITTEN) >>> 0;
  }

  /** Replies written that the main thread has not read yet. */
  get unread() {
    return ((Atomics.load(this.ring.header, WRITTEN) >>> 0) - (Atomics.load(this.ring.header, READ) >>> 0)) >>> 0;
  }
}

/**
 * @typedef {object} RingReply
 * @property {number} device
 * @property {number} ip the sender's IPv4 address as a number
 * @property {number} port
 * @property {number} tsNs when it arrived (CLOCK_MONOTONIC ns)
 * @property {Uint8Array} payload a view into the ring, valid only until the callback returns
 */

/** The main thread's end: it reads what the sending thread added, in order. */
export class ReplyRingReader {
  /** @param {SharedArrayBuffer} memory */
  constructor(memory) {
    this.ring = views(memory);
  }

  /**
   * Hands every reply written so far to `take`, in order, then gives their room back. The payload `take` sees is a
   * view into the ring: it is to be copied, not kept.
   * @param {(reply: RingReply) => void} take
   * @returns {number} how many
   */
  drain(take) {
    const ring = this.ring;
    const written = Atomics.load(ring.header, WRITTEN) >>> 0;
    let read = Atomics.load(ring.header, READ) >>> 0;
    const count = (written - read) >>> 0;
    let bytesRead = Atomics.load(ring.header, BYTES_READ) >>> 0;
    for (; read !== written; read = (read + 1) >>> 0) {
      const slot = read % REPLY_RECORDS;
      const at = /** @type {number} */ (ring.payloadAt[slot]);
      const length = /** @type {number} */ (ring.length[slot]);
      take({
        device: /** @type {number} */ (ring.device[slot]),
        ip: /** @type {number} */ (ring.ip[slot]),
        port: /** @type {number} */ (ring.port[slot]),
        tsNs: /** @type {number} */ (ring.tsNs[slot]),
        payload: ring.payload.subarray(at, at + length),
      });
      // Past this payload, and past the end the writer skipped when it went back to the start for it.
      const position = bytesRead % REPLY_PAYLOAD_BYTES;
      const skipped = at < position ? REPLY_PAYLOAD_BYTES - position : 0;
      bytesRead = (bytesRead + skipped + length) >>> 0;
    }
    Atomics.store(ring.header, BYTES_READ, bytesRead | 0);
    Atomics.store(ring.header, READ, written | 0);
    return count;
  }
}
