import type { UdpIo } from './udp-io.ts';

/** A send as a socket holds it until it leaves: to ip:port (0 and 0: the connected peer), its outcome to `done`. */
export interface OutgoingDatagram {
  payload: Uint8Array;
  ip: number;
  port: number;
  done: ((error: NodeJS.ErrnoException | null) => void) | undefined;
}

/** Datagrams packed for one sendBatch call at most. */
const BATCH = 64;
/** Bytes packed for one call at most: 64 datagrams of a device's size, and always one as large as UDP allows. */
const SLAB_BYTES = 1024 * 1024;

/** Where a batch of sends is packed for the C path: one slab and its arrays, shared by every socket of a path. */
export class SendSpace {
  readonly slab = Buffer.allocUnsafe(SLAB_BYTES);
  readonly ends = new Uint32Array(BATCH);
  readonly ips = new Uint32Array(BATCH);
  readonly ports = new Uint32Array(BATCH);
  readonly results = new Int32Array(BATCH);

  constructor(private readonly io: UdpIo) {}

  /**
   * Sends `sends` from `fd` in order, through as few system calls as the kernel allows; each one that
   * left or failed is handed to `settled` with its result (bytes, or -errno). Returns the index of the first one not
   * sent because the socket's send buffer is full (sends.length when all were settled), or of the first not tried
   * because `goOn` said to stop between system calls (the socket closed by a callback).
   */
  send(fd: number, sends: readonly OutgoingDatagram[], settled: (send: OutgoingDatagram, result: number) => void, goOn: () => boolean): number {
    let next = 0;
    while (next < sends.length && goOn()) {
      let count = 0;
      let bytes = 0;
      while (next + count < sends.length && count < BATCH) {
        const send = sends[next + count] as OutgoingDatagram;
        if (count > 0 && bytes + send.payload.length > SLAB_BYTES) break;
        this.slab.set(send.payload, bytes);
        bytes += send.payload.length;
        this.ends[count] = bytes;
        this.ips[count] = send.ip;
        this.ports[count] = send.port;
        count++;
      }
      const handled = this.io.sendBatch(fd, this.slab, this.ends, this.ips, this.ports, count, this.results);
      // Refused arguments (cannot happen with the arrays above) fail every send of the run with the call's error.
      const settledCount = handled < 0 ? count : handled;
      for (let i = 0; i < settledCount; i++) settled(sends[next + i] as OutgoingDatagram, handled < 0 ? handled : (this.results[i] as number));
      next += settledCount;
      if (settledCount < count) return next;
    }
    return next;
  }
}
