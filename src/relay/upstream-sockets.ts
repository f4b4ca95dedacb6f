import type { DatagramPath, DatagramSocket, SocketOptions } from '../core/udp-io/datagram-socket.ts';
import type { BackendSeries, RelayMetrics } from './relay-metrics.ts';

/**
 * Every upstream socket the relay holds, counted against its budget and grouped by backend: a socket that cannot be
 * made is a dial failure on the backend's series, never an exception on the packet path.
 */
export class UpstreamSockets {
  private readonly byBackend = new Map<string, Set<DatagramSocket>>();
  open = 0;

  constructor(
    private readonly metrics: RelayMetrics,
    private readonly io: DatagramPath,
  ) {}

  /** A socket connected to the backend at ip:port, from `sourceIp` when given, with buffers of `bufferBytes`. */
  create(ip: string, port: number, sourceIp: string | undefined, bufferBytes: number, series: BackendSeries, options: SocketOptions): DatagramSocket | undefined {
    try {
      const socket = this.io.upstream(ip, port, sourceIp, bufferBytes, options);
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
