import dgram from 'node:dgram';
import { debug } from '../core/debug.ts';
import type { BackendSeries, RelayMetrics } from './relay-metrics.ts';

/** Socket buffers sized for bursts (the kernel default of 208 KiB drops at ~50k packets/s). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
const SWEEP_INTERVAL_MS = 10;
/** Free sockets kept per backend beyond what is in use; more are closed when they come back. */
const MAX_IDLE_PER_BACKEND = 256;
const NS_PER_MS = 1_000_000n;

type Failure = 'timeout' | 'write_failed' | 'read_failed' | 'dial_failed';

/** A request to the ACK backend, waiting for its reply on a socket of its own. */
interface PendingRequest {
  socket: AckSocket;
  sentNs: bigint;
  series: BackendSeries;
  reply: (ack: Buffer) => void;
  settled: boolean;
}

/** A connected socket of the pool: carries one waiting request at a time, so its reply can only answer that one. */
interface AckSocket {
  socket: dgram.Socket;
  backend: string;
  connected: boolean;
  backlog: (() => void)[];
  request: PendingRequest | undefined;
  closed: boolean;
}

/** The socket a backend's fire-and-forget packets leave from: send only; whatever comes back is read and dropped. */
interface ForgetSocket {
  socket: dgram.Socket;
  connected: boolean;
  backlog: (() => void)[];
  closed: boolean;
  series: BackendSeries;
}

/**
 * The relay's upstream sockets. The spec's sketch dials a socket per packet; this pool keeps that property (a
 * waiting request owns its socket, so the reply on it is its ACK: the relay never inspects payloads) without a
 * socket creation per packet: a socket goes back to the pool when its ACK arrives, and is closed when its request
 * times out, so a late ACK can never be taken for the next request's. Fire-and-forget sends share one socket per
 * backend and never wait. One sweep times out all waiting requests (no timer per packet).
 */
export class UpstreamPool {
  private readonly free = new Map<string, AckSocket[]>();
  private readonly forget = new Map<string, ForgetSocket>();
  /** Every open socket per backend, for the send queue the debug endpoints report. */
  private readonly byBackend = new Map<string, Set<dgram.Socket>>();
  private readonly waiting: PendingRequest[] = [];
  private waitingHead = 0;
  private open = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly maxSockets: number;
  /** The ACK timeout; a reload may change it for requests sent from then on. */
  timeoutMs: number;

  /** Source address of upstream sockets; undefined lets the kernel choose (bind_ip 0.0.0.0). */
  sourceIp: string | undefined;

  constructor(
    private readonly metrics: RelayMetrics,
    options: { timeoutMs: number; maxSockets: number; sourceIp?: string },
  ) {
    this.timeoutMs = options.timeoutMs;
    this.maxSockets = options.maxSockets;
    this.sourceIp = options.sourceIp;
    this.sweepTimer = setInterval(() => this.expireWaiting(), SWEEP_INTERVAL_MS);
  }

  get openSockets(): number {
    return this.open;
  }

  get waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  /**
   * Datagrams queued in the kernel-bound send queue of a backend's sockets right now: the relay's queue in the
   * fan-out spec's sense (frames waiting to go out), not requests waiting for an ACK.
   */
  sendQueueSize(ip: string): number {
    let queued = 0;
    for (const [backend, sockets] of this.byBackend) {
      if (!backend.startsWith(`${ip}:`)) continue;
      for (const socket of sockets) queued += socket.getSendQueueCount();
    }
    return queued;
  }

  /** Sends to the ACK backend and relays its reply with `reply`; the outcome is recorded on `series`. */
  sendAwaitingAck(ip: string, port: number, payload: Buffer, series: BackendSeries, reply: (ack: Buffer) => void): void {
    series.issued++;
    const ackSocket = this.acquire(ip, port, series);
    if (ackSocket === undefined) return;
    const request: PendingRequest = { socket: ackSocket, sentNs: process.hrtime.bigint(), series, reply, settled: false };
    ackSocket.request = request;
    this.waiting.push(request);
    series.inFlight++;
    whenConnected(ackSocket, () =>
      ackSocket.socket.send(payload, (error) => {
        if (error) {
          series.lastError = error.message;
          this.settle(request, 'write_failed');
          this.discard(ackSocket);
        } else {
          series.lastSendOkMs = Date.now();
        }
      }),
    );
  }

  /** Sends without waiting or reading (the spec's fire-and-forget); `sent` or `write_failed` is recorded. */
  sendAndForget(ip: string, port: number, payload: Buffer, series: BackendSeries): void {
    series.issued++;
    const target = this.forgetSocket(ip, port, series);
    if (target === undefined) return;
    target.series = series;
    const startNs = process.hrtime.bigint();
    whenConnected(target, () =>
      target.socket.send(payload, (error) => {
        if (error) {
          series.lastError = error.message;
          series.record('write_failed', elapsedMs(startNs));
          return;
        }
        series.lastSendOkMs = Date.now();
        series.record('sent', elapsedMs(startNs));
      }),
    );
  }

  close(): void {
    clearInterval(this.sweepTimer);
    for (const list of this.free.values()) for (const s of list) this.closeSocket(s);
    for (const f of this.forget.values()) this.closeSocket(f);
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.closeSocket((this.waiting[i] as PendingRequest).socket);
    this.free.clear();
    this.forget.clear();
  }

  private acquire(ip: string, port: number, series: BackendSeries): AckSocket | undefined {
    const backend = `${ip}:${port}`;
    const reused = this.free.get(backend)?.pop();
    if (reused !== undefined) return reused;
    if (this.open >= this.maxSockets) {
      series.record('dial_failed', 0);
      series.lastError = `upstream socket limit (${this.maxSockets}) reached`;
      return undefined;
    }
    const socket = this.createSocket(ip, port, series);
    if (socket === undefined) return undefined;
    const ackSocket: AckSocket = { socket, backend, connected: false, backlog: [], request: undefined, closed: false };
    socket.on('message', (payload) => this.receive(ackSocket, payload));
    socket.on('error', (error) => this.fail(ackSocket, error));
    connect(ackSocket, ip, port, this.sourceIp);
    return ackSocket;
  }

  private forgetSocket(ip: string, port: number, series: BackendSeries): ForgetSocket | undefined {
    const key = `${ip}:${port}`;
    const existing = this.forget.get(key);
    if (existing !== undefined && !existing.closed) return existing;
    const socket = this.createSocket(ip, port, series);
    if (socket === undefined) return undefined;
    const target: ForgetSocket = { socket, connected: false, backlog: [], closed: false, series };
    socket.on('message', () => this.metrics.discardedReplies++);
    socket.on('error', (error) => {
      // A dead backend shows here (ICMP port unreachable after an earlier send). The socket stays usable: re-dialling
      // on every error would put a socket creation on the packet path exactly when a backend is down.
      const code = (error as NodeJS.ErrnoException).code;
      const failure = (error as NodeJS.ErrnoException).syscall === 'connect' ? 'dial_failed' : 'write_failed';
      target.series.record(failure, 0);
      target.series.lastError = error.message;
      debug('fire-and-forget %s: %s', key, error.message);
      if (code !== 'ECONNREFUSED' && code !== 'EHOSTUNREACH' && code !== 'ENETUNREACH') {
        this.forget.delete(key);
        this.closeSocket(target);
      }
    });
    connect(target, ip, port, this.sourceIp);
    this.forget.set(key, target);
    return target;
  }

  private createSocket(ip: string, port: number, series: BackendSeries): dgram.Socket | undefined {
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
      return undefined;
    }
  }

  private receive(ackSocket: AckSocket, payload: Buffer): void {
    const request = ackSocket.request;
    if (request === undefined || request.settled) {
      this.metrics.discardedReplies++;
      return;
    }
    this.settle(request, 'success');
    request.reply(payload);
    this.release(ackSocket);
  }

  private fail(ackSocket: AckSocket, error: Error): void {
    const request = ackSocket.request;
    if (request !== undefined) {
      request.series.lastError = error.message;
      this.settle(request, (error as NodeJS.ErrnoException).syscall === 'connect' ? 'dial_failed' : 'read_failed');
    }
    this.discard(ackSocket);
  }

  private settle(request: PendingRequest, status: 'success' | Failure): void {
    if (request.settled) return;
    request.settled = true;
    request.series.inFlight--;
    const latencyMs = status === 'timeout' ? this.timeoutMs : elapsedMs(request.sentNs);
    request.series.record(status, latencyMs);
    if (status === 'success') {
      request.series.lastAckLatencyMs = latencyMs;
      this.metrics.noteAckLatency(latencyMs);
    } else if (status === 'timeout') {
      request.series.lastError = `no ACK within ${this.timeoutMs} ms`;
    }
  }

  private release(ackSocket: AckSocket): void {
    ackSocket.request = undefined;
    const list = this.free.get(ackSocket.backend) ?? [];
    if (list.length >= MAX_IDLE_PER_BACKEND) {
      this.closeSocket(ackSocket);
      return;
    }
    list.push(ackSocket);
    this.free.set(ackSocket.backend, list);
  }

  /** A socket whose request failed or timed out is never reused: a reply may still be on its way to it. */
  private discard(ackSocket: AckSocket): void {
    ackSocket.request = undefined;
    this.closeSocket(ackSocket);
  }

  private expireWaiting(): void {
    const deadline = process.hrtime.bigint() - BigInt(this.timeoutMs) * NS_PER_MS;
    while (this.waitingHead < this.waiting.length) {
      const request = this.waiting[this.waitingHead] as PendingRequest;
      if (!request.settled && request.sentNs > deadline) break;
      this.waitingHead++;
      if (!request.settled) {
        this.settle(request, 'timeout');
        this.discard(request.socket);
      }
    }
    // Compact now and then, so the queue's memory follows what is waiting, not what ever waited.
    if (this.waitingHead > 4096 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
  }

  private closeSocket(target: { socket: dgram.Socket; closed: boolean }): void {
    if (target.closed) return;
    target.closed = true;
    this.open--;
    try {
      target.socket.close();
    } catch {
      // Already closed by an error: nothing left to release.
    }
  }
}

/**
 * Node sends on a connected UDP socket only once connect() has completed; sends before that wait in a backlog. With a
 * source address the socket is bound to it first, so the relay's upstream traffic comes from the relay's address.
 */
function connect(target: { socket: dgram.Socket; connected: boolean; backlog: (() => void)[]; closed: boolean }, ip: string, port: number, sourceIp: string | undefined): void {
  const dial = (): void =>
    target.socket.connect(port, ip, () => {
      if (target.closed) return;
      target.connected = true;
      for (const send of target.backlog.splice(0)) send();
    });
  if (sourceIp === undefined) dial();
  else target.socket.bind(0, sourceIp, dial);
}

function whenConnected(target: { connected: boolean; backlog: (() => void)[] }, send: () => void): void {
  if (target.connected) send();
  else target.backlog.push(send);
}

function elapsedMs(sinceNs: bigint): number {
  return Number(process.hrtime.bigint() - sinceNs) / 1e6;
}
