import dgram from 'node:dgram';
import type { BackendSeries, RelayMetrics } from './relay-metrics.ts';

/** Socket buffers sized for bursts (the kernel default of 208 KiB drops at ~50k packets/s). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Every upstream socket the relay holds, counted against its budget and grouped by backend: a socket that cannot be
 * made is a dial failure on the backend's series, never an exception on the packet path.
 */
export class UpstreamSockets {
  private readonly byBackend = new Map<string, Set<dgram.Socket>>();
  open = 0;

  constructor(private readonly metrics: RelayMetrics) {}

  create(ip: string, port: number, series: BackendSeries): dgram.Socket | undefined {
    try {
      const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER_BYTES, sendBufferSize: UDP_BUFFER_BYTES });
      this.open++;
      const key = `${ip}:${port}`;
      const sockets = this.byBackend.get(key) ?? new Set<dgram.Socket>();
      sockets.add(socket);
      this.byBackend.set(key, sockets);
      socket.once('close', () => sockets.delete(socket));
      return socket;
    } catch (error) {
      series.record('dial_failed', 0);
      series.lastError = `${ip}:${port}: ${(error as Error).message}`;
      this.metrics.countRefused('socket_error');
      return undefined;
    }
  }

  close(target: { socket: dgram.Socket; closed: boolean }): void {
    if (target.closed) return;
    target.closed = true;
    this.open--;
    try {
      target.socket.close();
    } catch {
      // Already closed by an error: nothing left to release.
    }
  }

  /** Datagrams queued in the kernel-bound send queue of a backend's sockets right now (the fan-out spec's queue). */
  sendQueueSize(ip: string): number {
    let queued = 0;
    for (const [backend, sockets] of this.byBackend) {
      if (!backend.startsWith(`${ip}:`)) continue;
      for (const socket of sockets) queued += socket.getSendQueueCount();
    }
    return queued;
  }
}
