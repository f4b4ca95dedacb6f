import { loadAddon } from '../native-addon.ts';
import { fileURLToPath } from 'node:url';

/** The addon built from udp-io.c: numbers in, numbers out, a negative result being -errno. */
export interface UdpIo {
  /**
   * A non-blocking IPv4 UDP socket bound to ip:port (port 0: any): its descriptor. With `timestamps` the kernel stamps
   * each datagram's arrival, and recv hands the stamps over.
   */
  open(ip: number, port: number, bufferBytes: number, timestamps?: boolean): number;
  connect(fd: number, ip: number, port: number): number;
  localPort(fd: number): number;
  /** Datagrams the kernel dropped on arrival at the socket since it was made (SO_MEMINFO); or -errno. */
  receiveDrops(fd: number): number;
  /** One datagram; ip and port 0: to the connected peer. Bytes sent. */
  send(fd: number, payload: Uint8Array, offset: number, length: number, ip: number, port: number): number;
  /**
   * A run of a replay's batch, each packet at its time (udp-io.c's js_send_due says how): frame is [from, to, startNs,
   * durationNs, relayIp, -errno of the send it stopped at (out), the longest wait spun, the call's budget in ns];
   * packets sent. With the reply arguments (the reply ring's memory and layout, reply-ring.js; each socket's own
   * address and port; an errors array, [count, -errno...]; the descriptor replySet gave), replies waiting on the
   * sockets are read into the ring inside the waits it spins.
   */
  sendDue(sockets: Int32Array, connected: Uint16Array, device: Uint32Array, relayPort: Uint16Array, payload: Uint8Array, payloadEnd: Uint32Array, offsetNs: Float64Array, actualNs: Float64Array, frame: Float64Array, stop: Int32Array, ...replies: [] | [memory: Uint8Array, layout: Uint32Array, selfIps: Uint32Array, selfPorts: Uint16Array, errors: Int32Array, replySet: number]): number;
  /**
   * Datagrams from one socket in as few system calls as the kernel allows (sendmmsg): datagram i is the slab's bytes
   * from ends[i - 1] (0 for the first) to ends[i], to ips[i]:ports[i] (port 0: the connected peer); results[i] the
   * bytes sent or -errno. How many have a result: fewer than `count` where the send buffer filled.
   */
  sendBatch(fd: number, slab: Uint8Array, ends: Uint32Array, ips: Uint32Array, ports: Uint32Array, count: number, results: Int32Array): number;
  /** An epoll descriptor for sockets watched as one (groupAdd, groupRemove), read by groupRecv; or -errno. */
  groupOpen(): number;
  groupAdd(group: number, fd: number): number;
  groupRemove(group: number, fd: number): number;
  /**
   * Datagrams waiting on the group's ready sockets, as recv reads one socket's (with `stamps`, when each arrived; 0
   * for a socket opened without them), each one's socket in fds[i]: how many entries. An entry with length -2 is that
   * socket's error, its errno in from[2i].
   */
  groupRecv(group: number, slab: Buffer, slotBytes: number, lengths: Int32Array, from: Uint32Array, fds: Int32Array, stamps?: Float64Array): number;
  /** An epoll descriptor watching each socket of `sockets` for datagrams, for sendDue's reading of replies; or -errno. */
  replySet(sockets: Int32Array): number;
  /**
   * Up to 64 datagrams waiting on the socket, into slots of `slotBytes` in `slab`: how many (0: none). With `stamps`,
   * when each arrived (CLOCK_MONOTONIC ns, the kernel's stamp; 0 for a socket opened without timestamps).
   */
  recv(fd: number, slab: Buffer, slotBytes: number, lengths: Int32Array, from: Uint32Array, stamps?: Float64Array): number;
  /** Calls `ready(events)` when the socket is readable (1) and/or writable (2), as asked by `events`. */
  watch(fd: number, events: number, ready: (events: number) => void): UdpWatch | number;
  events(watch: UdpWatch, events: number): number;
  /** Stops the watch and closes its socket. */
  close(watch: UdpWatch): number;
  closeFd(fd: number): number;
  /**
   * Blocks the calling thread up to `ns` nanoseconds, or until its event loop has I/O waiting: 1 then, 0 after the
   * time. A sending thread's wait that leaves its CPU to others.
   */
  park(ns: number): number;
  /**
   * The calling thread under SCHED_FIFO at the lowest real-time priority (on), or back under the ordinary policy (off):
   * 0, or -errno where the system does not allow it.
   */
  realtime(on: boolean): number;
}

/** A libuv poll handle held by the addon. */
export type UdpWatch = { readonly udpWatch: unique symbol };

export const READABLE = 1;
export const WRITABLE = 2;

/** Where `npm install` builds the addon (src/core/build-addons.js). */
export const UDP_IO_PATH = fileURLToPath(new URL('../../../build/udp-io.node', import.meta.url));

/** Its source: a binary older than it was built from an earlier version, and is not loaded. */
const UDP_IO_SOURCE = fileURLToPath(new URL('./udp-io.c', import.meta.url));

let loaded: UdpIo | null | undefined;
/** Why the addon is not loaded, for an error that asks for it. */
export let udpIoMissing = '';

/** The addon, or undefined when it was not built here (no C compiler at install), is stale, or does not load. */
export function loadUdpIo(): UdpIo | undefined {
  if (loaded === undefined) {
    const result = loadAddon<UdpIo>(UDP_IO_PATH, UDP_IO_SOURCE);
    if ('missing' in result) udpIoMissing = result.missing;
    loaded = 'addon' in result ? result.addon : null;
  }
  return loaded ?? undefined;
}
