import { isIPv4 } from 'node:net';
import type { DatagramPath, DatagramSocket, SocketOptions } from '../core/udp-io/datagram-socket.ts';
import type { BackendSeries, RelayMetrics } from './relay-metrics.ts';
import { RESERVE_MOST, SocketReserve } from './socket-reserve.ts';

/**
 * Every upstream socket the relay holds, counted against its budget and grouped by backend: a socket that cannot be
 * made is a dial failure on the backend's series, never an exception on the packet path.
 */
export class UpstreamSockets {
  private readonly byBackend = new Map<string, Set<DatagramSocket>>();
  /** Sockets for new bindings, opened ahead (they are not `open`: no binding holds them yet). */
  private readonly reserve: SocketReserve;
  open = 0;

  constructor(
    private readonly metrics: RelayMetrics,
    private readonly io: DatagramPath,
  ) {
    this.reserve = new SocketReserve(io);
  }

  get reserved(): number {
    return this.reserve.size;
  }

  /**
   * A socket connected to the backend at ip:port, from `sourceIp` when given, with buffers of `bufferBytes`; a
   * binding's (grouped) is taken from the reserve where it holds one.
   */
  create(ip: string, port: number, sourceIp: string | undefined, bufferBytes: number, series: BackendSeries, options: SocketOptions): DatagramSocket | undefined {
    try {
      // The reserve's sockets are IPv4 and plain: a binding to an IPv6 backend, or one asked for otherwise, is made here.
      const fromReserve = isIPv4(ip) && options.grouped === true && options.arrivalTimes !== true && options.batchedSends !== true;
      const ahead = fromReserve ? this.reserve.take(sourceIp, bufferBytes) : undefined;
      const socket = ahead === undefined ? this.io.upstream(ip, port, sourceIp, bufferBytes, options) : ahead.connect(ip, port);
      this.open++;
      const key = `${ip}:${port}`;
      const sockets = this.byBackend.get(key) ?? new Set<DatagramSocket>();
      sockets.add(socket);
      this.byBackend.set(key, sockets);
      return socket;
    } catch (error) {
      series.record('dial_failed', 0);
      series.lastError = `${ip}:${port}: ${(error as Error).message}`;
      this.metrics.countRefused('socket_error', series);
      return undefined;
    }
  }

  /**
   * Opens a few bindings' sockets ahead, towards an eighth of the budget (at most RESERVE_MOST), never so many that
   * they and the sockets open pass the budget: the descriptors the budget was sized for are not exceeded.
   */
  refillReserve(sourceIp: string | undefined, bufferBytes: number, budget: number): void {
    this.reserve.refill(sourceIp, bufferBytes, Math.max(0, Math.min(RESERVE_MOST, Math.floor(budget / 8), budget - this.open)));
  }

  closeReserve(): void {
    this.reserve.clear();
  }

  close(target: { socket: DatagramSocket; closed: boolean }): void {
    if (target.closed) return;
    target.closed = true;
    this.open--;
    for (const sockets of this.byBackend.values()) if (sockets.delete(target.socket)) break;
    void target.socket.close();
  }

  /** Datagrams queued in the kernel-bound send queue of a backend's sockets right now (the fan-out spec's queue). */
  sendQueueSize(ip: string): number {
    let queued = 0;
    for (const [backend, sockets] of this.byBackend) {
      if (!backend.startsWith(`${ip}:`)) continue;
      for (const socket of sockets) queued += socket.sendQueueCount();
    }
    return queued;
  }
}
