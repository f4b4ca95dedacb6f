import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon built from udp-io.c: numbers in, numbers out, a negative result being -errno. */
export interface UdpIo {
  /** A non-blocking IPv4 UDP socket bound to ip:port (port 0: any): its descriptor. */
  open(ip: number, port: number, bufferBytes: number): number;
  connect(fd: number, ip: number, port: number): number;
  localPort(fd: number): number;
  /** One datagram; ip and port 0: to the connected peer. Bytes sent. */
  send(fd: number, payload: Buffer, offset: number, length: number, ip: number, port: number): number;
  /** Up to 64 datagrams waiting on the socket, into slots of `slotBytes` in `slab`: how many (0: none). */
  recv(fd: number, slab: Buffer, slotBytes: number, lengths: Int32Array, from: Uint32Array): number;
  /** Calls `ready(events)` when the socket is readable (1) and/or writable (2), as asked by `events`. */
  watch(fd: number, events: number, ready: (events: number) => void): UdpWatch | number;
  events(watch: UdpWatch, events: number): number;
  /** Stops the watch and closes its socket. */
  close(watch: UdpWatch): number;
  closeFd(fd: number): number;
  ref(watch: UdpWatch, keep: boolean): number;
}

/** A libuv poll handle held by the addon. */
export type UdpWatch = { readonly udpWatch: unique symbol };

export const READABLE = 1;
export const WRITABLE = 2;

/** Where `npm install` builds the addon (src/core/udp-io/build-udp-io.js). */
export const UDP_IO_PATH = fileURLToPath(new URL('../../../build/udp-io.node', import.meta.url));

let loaded: UdpIo | null | undefined;

/** The addon, or undefined when it was not built here (no C compiler at install) or does not load. */
export function loadUdpIo(): UdpIo | undefined {
  if (loaded === undefined) {
    try {
      loaded = existsSync(UDP_IO_PATH) ? (createRequire(import.meta.url)(UDP_IO_PATH) as UdpIo) : null;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
