import type { DatagramSocket } from '../core/udp-io/datagram-socket.ts';
import { performance } from 'node:perf_hooks';
import { debug } from '../core/debug.ts';
import type { BackendSeries, RelayMetrics } from './relay-metrics.ts';
import { elapsedMs, type ForgetSocket } from './upstream-socket.ts';

/** How the pool lends sockets: created within its budget, closed through it, bound to its source address. */
export interface SocketLender {
  create(ip: string, port: number, series: BackendSeries): DatagramSocket | undefined;
  close(target: { socket: DatagramSocket; closed: boolean }): void;
}

/**
 * Sends one packet no answer is waited for, on `socket`, and gives it its one status: `sent`, or `write_failed` with
 * the kernel's reason counted apart (a refusing mirror shows as refused, not just failed).
 */
export function sendForgotten(socket: DatagramSocket, payload: Buffer, series: BackendSeries, metrics: RelayMetrics): void {
  series.issued++;
  const startMs = performance.now();
  socket.send(payload, (error) => {
    if (error) {
      series.lastError = error.message;
      series.record('write_failed', elapsedMs(startMs));
      metrics.countBackendError(series, error.code);
      return;
    }
    series.lastSendOkMs = Date.now();
    series.record('sent', elapsedMs(startMs));
  });
}

/**
 * The spec's fire-and-forget sends: one socket per backend, send only; whatever comes back on it is read and
 * dropped. A send the kernel refuses is that packet's one status (`write_failed`), its reason counted apart.
 */
export class FireAndForget {
  /** Backend address, then port: a lookup without a key string made per packet. */
  private readonly byBackend = new Map<string, Map<number, ForgetSocket>>();

  constructor(
    private readonly metrics: RelayMetrics,
    private readonly sockets: SocketLender,
  ) {}

  /** Sends without waiting or reading (the spec's fire-and-forget): each packet gets one status, `sent` or `write_failed`. */
  send(ip: string, port: number, payload: Buffer, series: BackendSeries): void {
    const target = this.socketFor(ip, port, series);
    if (target === undefined) {
      series.issued++;
      return;
    }
    target.series = series;
    sendForgotten(target.socket, payload, series, this.metrics);
  }

  /** Sends at once what waits to leave for ip:port (sendHeld), before a datagram on another socket could overtake it. */
  sendHeld(ip: string, port: number): void {
    this.byBackend.get(ip)?.get(port)?.socket.sendHeld();
  }

  close(): void {
    for (const ports of this.byBackend.values()) for (const target of ports.values()) this.sockets.close(target);
    this.byBackend.clear();
  }

  private socketFor(ip: string, port: number, series: BackendSeries): ForgetSocket | undefined {
    const existing = this.byBackend.get(ip)?.get(port);
    if (existing !== undefined && !existing.closed) return existing;
    const key = `${ip}:${port}`;
    const socket = this.sockets.create(ip, port, series);
    if (socket === undefined) return undefined;
    const target: ForgetSocket = { socket, closed: false, series };
    socket.onMessage(() => this.metrics.discardedReplies++);
    socket.onError((error) => {
      // A dead backend shows here (ICMP port unreachable after an earlier send): counted as the backend's error, not as
      // a second status of a packet that already has one. The socket stays usable: re-dialling on every error would put
      // a socket creation on the packet path exactly when a backend is down.
      const code = error.code;
      target.series.lastError = error.message;
      target.series.noteFailure();
      this.metrics.countBackendError(target.series, code);
      debug('fire-and-forget %s: %s', key, error.message);
      if (code !== 'ECONNREFUSED' && code !== 'EHOSTUNREACH' && code !== 'ENETUNREACH') {
        // Only this socket's entry: one made since for the same backend stays.
        if (this.byBackend.get(ip)?.get(port) === target) this.byBackend.get(ip)?.delete(port);
        this.sockets.close(target);
      }
    });
    let ports = this.byBackend.get(ip);
    if (ports === undefined) this.byBackend.set(ip, (ports = new Map()));
    ports.set(port, target);
    return target;
  }
}
