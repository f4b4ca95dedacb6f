// The devices' sockets of the sending thread (send-worker.js): on the relay's datagram path in C where it is built
// (device-sockets-native.js), else on Node's dgram (device-sockets-dgram.js). Both bind every device's socket, warm it
// up, connect those that send to one relay port only, and hand each reply over with the device's index.
// Plain JavaScript, as the thread is; the types are checked from JSDoc.

/**
 * @typedef {object} DeviceSockets
 * @property {number[]} ports each device's local port
 * @property {(index: number, payload: Uint8Array, from: number, end: number, relayPort: number) => number} send
 *   sends bytes [from, end) of `payload` from device `index` to the relay's `relayPort`; returns when the send that
 *   went out was issued (CLOCK_MONOTONIC ns): a reply stamped by the kernel can come before the call returns, never
 *   before that
 * @property {SendDue | undefined} sendDue sends a run of a batch's packets in one call (the C datagram path only)
 * @property {() => Promise<void>} close
 */

/**
 * Sends packets `from` up to `to` of `batch`, each at its time (`startNs` + its offset; an offset of NaN: at once,
 * unless `durationNs` has passed since `startNs`), while `stop[0]` is 0: a packet due within `spinNs` is waited for,
 * spinning, as long as the call has not lasted `budgetNs`. Each time a packet left goes into `actualNs`; returns how
 * many were sent. It stops at the first packet not due in time or whose send met a full buffer, which the caller
 * sends with `send`; a packet whose send failed otherwise is reported (the error handler) and counted as sent.
 * @callback SendDue
 * @param {{ device: Uint32Array, relayPort: Uint16Array, payload: Uint8Array, payloadEnd: Uint32Array, offsetNs: Float64Array }} batch
 * @param {number} from
 * @param {number} to
 * @param {number} startNs
 * @param {number} durationNs
 * @param {Float64Array} actualNs
 * @param {Int32Array} stop
 * @param {number} spinNs
 * @param {number} budgetNs
 * @returns {number}
 */

/**
 * @typedef {object} DeviceHandlers
 * @property {(index: number, ip: string, port: number, payload: Uint8Array, atNs?: number) => void} reply a datagram to
 *   device `index`, with when it arrived where the sockets know it (CLOCK_MONOTONIC ns, the kernel's stamp)
 * @property {((index: number, ip: number, port: number, source: Buffer, from: number, length: number, atNs?: number) => boolean) | undefined} [replyBytes]
 *   the same, its bytes `from`..`from + length` of `source` (to be copied before the call returns) and the address a
 *   number: taken without allocating where it can be (the C datagram path uses it first), false when it was not
 * @property {(code: string) => void} error a send or a socket that failed, by its system error code
 */

/**
 * @typedef {object} DeviceSocketOptions
 * @property {string[]} localIps each device's address
 * @property {number[]} connectPorts the one relay port a device sends to (0: several)
 * @property {string} relayHost
 * @property {string | undefined} udpIoPath the C datagram path's addon, when it is to be used
 * @property {SharedArrayBuffer | undefined} [replyRing] the reply ring (reply-ring.js), which the C path's runs of sends
 *   read replies into inside their spun waits
 */

/** A bind that failed, with the address it failed on. */
export class DeviceBindError extends Error {
  /** @param {string} ip @param {string} message */
  constructor(ip, message) {
    super(message);
    this.ip = ip;
  }
}

/**
 * @param {DeviceSocketOptions} options
 * @param {DeviceHandlers} handlers
 * @returns {Promise<DeviceSockets>}
 */
export async function openDeviceSockets(options, handlers) {
  if (options.udpIoPath !== undefined) return (await import('./device-sockets-native.js')).openNativeDeviceSockets(options.udpIoPath, options, handlers);
  return (await import('./device-sockets-dgram.js')).openDgramDeviceSockets(options, handlers);
}
