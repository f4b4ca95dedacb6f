// The devices' sockets of the sending thread (send-worker.js): on the relay's datagram path in C where it is built
// (device-sockets-native.js), else on Node's dgram (device-sockets-dgram.js). Both bind every device's socket, warm it
// up, connect those that send to one relay port only, and hand each reply over with the device's index.
// Plain JavaScript, as the thread is; the types are checked from JSDoc.

/**
 * @typedef {object} DeviceSockets
 * @property {number[]} ports each device's local port
 * @property {(index: number, payload: Uint8Array, from: number, end: number, relayPort: number) => void} send
 *   sends bytes [from, end) of `payload` from device `index` to the relay's `relayPort`
 * @property {SendDue | undefined} sendDue sends a run of a batch's packets in one call (the C datagram path only)
 * @property {() => Promise<void>} close
 */

/**
 * Sends packets `from` up to `to` of `batch` while each is due (`startNs` + its offset has passed; an offset of NaN:
 * unless `durationNs` has passed since `startNs`) and `stop[0]` is 0, each time it left into `actualNs`: how many were
 * sent. It stops at the first packet not due or whose send met a full buffer, which the caller sends with `send`; a
 * packet whose send failed otherwise is reported (the error handler) and counted as sent.
 * @callback SendDue
 * @param {{ device: Uint32Array, relayPort: Uint16Array, payload: Uint8Array, payloadEnd: Uint32Array, offsetNs: Float64Array }} batch
 * @param {number} from
 * @param {number} to
 * @param {number} startNs
 * @param {number} durationNs
 * @param {Float64Array} actualNs
 * @param {Int32Array} stop
 * @returns {number}
 */

/**
 * @typedef {object} DeviceHandlers
 * @property {(index: number, ip: string, port: number, payload: Uint8Array) => void} reply a datagram to device `index`
 * @property {(code: string) => void} error a send or a socket that failed, by its system error code
 */

/**
 * @typedef {object} DeviceSocketOptions
 * @property {string[]} localIps each device's address
 * @property {number[]} connectPorts the one relay port a device sends to (0: several)
 * @property {string} relayHost
 * @property {string | undefined} udpIoPath the C datagram path's addon, when it is to be used
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
