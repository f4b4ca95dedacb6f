import type { DatagramPath, SocketOpenedAhead } from '../core/udp-io/datagram-socket.ts';

/** Sockets the reserve holds at most, and at most an eighth of the relay's socket budget. */
export const RESERVE_MOST = 1024;
/**
 * Sockets opened at one refill: about 15 µs each on this project's machine (socket, two buffer sizes, bind, and the
 * watch), so a refill holds the packet path up for a quarter of a millisecond at most, and a reserve emptied by a
 * thousand new devices is full again within a second.
 */
const OPENED_PER_REFILL = 16;

/**
 * Upstream sockets for new bindings, opened ahead, off the packet path: a device heard from the first time waits
 * only for its socket's connect (5 µs), not for the socket to be made (20-30 µs). A thousand devices arriving at once
 * (a relay restarted, a NAT that rebinds its ports) held the devices behind them 17-59 ms at the p50 while their
 * sockets were made one by one on the packet path. Every socket of the reserve has the source address and buffer size
 * of the configuration in force: a reload that changes either empties it.
 */
export class SocketReserve {
  private readonly ready: SocketOpenedAhead[] = [];
  private sourceIp: string | undefined;
  private bufferBytes = 0;
  /** Opening failed (descriptors run out): no refill until a socket is taken, so a full table is not retried 100 times a second. */
  private stalled = false;

  constructor(private readonly io: DatagramPath) {}

  get size(): number {
    return this.ready.length;
  }

  /** A socket opened ahead with these settings, or undefined (none left, or none can be opened ahead on this path). */
  take(sourceIp: string | undefined, bufferBytes: number): SocketOpenedAhead | undefined {
    if (!this.keptFor(sourceIp, bufferBytes)) return undefined;
    this.stalled = false;
    return this.ready.pop();
  }

  /** Opens sockets with the settings in force until the reserve holds `target` (a few at a time); how many it opened. */
  refill(sourceIp: string | undefined, bufferBytes: number, target: number): number {
    this.keptFor(sourceIp, bufferBytes);
    while (this.ready.length > target) void this.ready.pop()?.close();
    if (this.stalled || this.io.openAhead === undefined) return 0;
    let opened = 0;
    while (this.ready.length < target && opened < OPENED_PER_REFILL) {
      let socket: SocketOpenedAhead | undefined;
      try {
        socket = this.io.openAhead(sourceIp, bufferBytes, { grouped: true });
      } catch {
        // The binding that needs a socket will try to make its own and report why it cannot.
        this.stalled = true;
        return opened;
      }
      if (socket === undefined) return opened;
      this.ready.push(socket);
      opened++;
    }
    return opened;
  }

  /** Whether the reserve holds sockets of these settings; if not, it empties and holds them from now on. */
  private keptFor(sourceIp: string | undefined, bufferBytes: number): boolean {
    if (sourceIp === this.sourceIp && bufferBytes === this.bufferBytes) return true;
    this.clear();
    this.sourceIp = sourceIp;
    this.bufferBytes = bufferBytes;
    return false;
  }

  clear(): void {
    for (const socket of this.ready.splice(0)) void socket.close();
  }
}
