import dgram from 'node:dgram';
import { debug } from '../core/debug.ts';
import type { BackendSeries, RelayMetrics } from './relay-metrics.ts';

/** A request sent to an ACK backend, waiting for its reply. */
interface PendingRequest {
  session: UpstreamSession;
  sentNs: bigint;
  series: BackendSeries;
  /** Where the ACK goes: the device, from the relay port it sent to. */
  reply: (ack: Buffer) => void;
  settled: boolean;
}

const NS_PER_MS = 1_000_000n;
const SWEEP_INTERVAL_MS = 10;
const IDLE_SWEEP_INTERVAL_MS = 1000;
/** Socket buffers sized for bursts (the kernel default of 208 KiB drops at ~50k packets/s). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * One device's conversation with one backend: a connected UDP socket, so the backend sees each device as its own
 * source (as a NAT would show it), and its replies come back to the socket that belongs to that device. Replies
 * answer the oldest request still waiting (UDP carries no request id the relay may read: it does not inspect packets).
 */
class UpstreamSession {
  readonly pending: PendingRequest[] = [];
  lastUsedMs = Date.now();
  closed = false;
  /** Node sends on a UDP socket only once connect() has completed; sends before that wait here. */
  connected = false;
  readonly backlog: (() => void)[] = [];

  constructor(
    readonly key: string,
    readonly socket: dgram.Socket,
    /** The series of the latest send, charged with failures no waiting request can carry (fire-and-forget). */
    public series: BackendSeries,
  ) {}
}

export interface SendOptions {
  deviceKey: string;
  backendIp: string;
  port: number;
  payload: Buffer;
  series: BackendSeries;
  /** For the ACK backend: where its reply goes. Fire-and-forget sends pass none and never wait. */
  reply?: (ack: Buffer) => void;
}

/**
 * The relay's upstream sockets, one per (device, backend), reused while the device talks and closed when idle. Every
 * ACK request is timed out by one sweep over a single queue ordered by send time (all share the same timeout), so the
 * packet path sets no timer.
 */
export class UpstreamSessions {
  private readonly sessions = new Map<string, UpstreamSession>();
  private readonly waiting: PendingRequest[] = [];
  private waitingHead = 0;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly maxSockets: number;
  /** The ACK timeout; a reload may change it, for requests sent from then on. */
  timeoutMs: number;

  constructor(
    private readonly metrics: RelayMetrics,
    options: { timeoutMs: number; maxSockets: number },
  ) {
    this.timeoutMs = options.timeoutMs;
    this.maxSockets = options.maxSockets;
    this.sweepTimer = setInterval(() => this.expireWaiting(), SWEEP_INTERVAL_MS);
    this.idleTimer = setInterval(() => this.closeIdle(), IDLE_SWEEP_INTERVAL_MS);
  }

  get openSockets(): number {
    return this.sessions.size;
  }

  /** Requests waiting for an ACK right now, across all backends. */
  get waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  send({ deviceKey, backendIp, port, payload, series, reply }: SendOptions): void {
    const session = this.sessionFor(`${deviceKey}>${backendIp}:${port}`, backendIp, port, series);
    if (session === undefined) return;
    const sentNs = process.hrtime.bigint();
    let request: PendingRequest | undefined;
    if (reply !== undefined) {
      request = { session, sentNs, series, reply, settled: false };
      session.pending.push(request);
      this.waiting.push(request);
      series.inFlight++;
    }
    const write = (): void =>
      session.socket.send(payload, (error) => {
        if (error) {
          series.lastError = error.message;
          if (request !== undefined) this.settle(request, 'write_failed', sentNs);
          else series.record('write_failed', elapsedMs(sentNs));
          return;
        }
        series.lastSendOkMs = Date.now();
        if (request === undefined) series.record('sent', elapsedMs(sentNs));
      });
    if (session.connected) write();
    else session.backlog.push(write);
  }

  close(): void {
    clearInterval(this.sweepTimer);
    clearInterval(this.idleTimer);
    for (const session of this.sessions.values()) this.closeSession(session);
    this.sessions.clear();
  }

  private sessionFor(key: string, ip: string, port: number, series: BackendSeries): UpstreamSession | undefined {
    const existing = this.sessions.get(key);
    if (existing !== undefined) {
      existing.lastUsedMs = Date.now();
      existing.series = series;
      return existing;
    }
    if (this.sessions.size >= this.maxSockets) this.evictOldest();
    let socket: dgram.Socket;
    try {
      socket = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER_BYTES, sendBufferSize: UDP_BUFFER_BYTES });
    } catch (error) {
      series.record('dial_failed', 0);
      series.lastError = (error as Error).message;
      return undefined;
    }
    const created = new UpstreamSession(key, socket, series);
    socket.on('message', (payload) => this.receive(created, payload));
    socket.on('error', (error) => this.fail(created, error));
    socket.connect(port, ip, () => {
      if (created.closed) return;
      created.connected = true;
      for (const write of created.backlog.splice(0)) write();
    });
    this.sessions.set(key, created);
    return created;
  }

  private receive(session: UpstreamSession, payload: Buffer): void {
    session.lastUsedMs = Date.now();
    let request = session.pending.shift();
    while (request !== undefined && request.settled) request = session.pending.shift();
    if (request === undefined) {
      this.metrics.discardedReplies++;
      return;
    }
    this.settle(request, 'success', request.sentNs);
    request.reply(payload);
  }

  /** A socket error: a dial that failed, or a read that did (ICMP port unreachable on a connected socket). */
  private fail(session: UpstreamSession, error: Error): void {
    const connecting = (error as NodeJS.ErrnoException).syscall === 'connect';
    debug('upstream %s: %s', session.key, error.message);
    session.series.lastError = error.message;
    if (session.pending.every((request) => request.settled)) {
      // A fire-and-forget socket learns of a dead backend only here (ICMP port unreachable after a send).
      session.series.record(connecting ? 'dial_failed' : 'write_failed', 0);
    }
    for (const request of session.pending) {
      request.series.lastError = error.message;
      this.settle(request, connecting ? 'dial_failed' : 'read_failed', request.sentNs);
    }
    session.pending.length = 0;
    if (!session.connected) {
      // The dial failed: the sends still waiting never left.
      for (let i = 0; i < session.backlog.length; i++) session.series.record('dial_failed', 0);
      session.backlog.length = 0;
    }
    this.sessions.delete(session.key);
    this.closeSession(session);
  }

  private settle(request: PendingRequest, status: 'success' | 'timeout' | 'write_failed' | 'read_failed' | 'dial_failed', sentNs: bigint): void {
    if (request.settled) return;
    request.settled = true;
    request.series.inFlight--;
    const latencyMs = status === 'timeout' ? this.timeoutMs : elapsedMs(sentNs);
    request.series.record(status, latencyMs);
    if (status === 'success') {
      request.series.lastAckLatencyMs = latencyMs;
      this.metrics.noteAckLatency(latencyMs);
    } else if (status === 'timeout') {
      request.series.lastError = `no ACK within ${this.timeoutMs} ms`;
    }
  }

  private expireWaiting(): void {
    const deadline = process.hrtime.bigint() - BigInt(this.timeoutMs) * NS_PER_MS;
    while (this.waitingHead < this.waiting.length) {
      const request = this.waiting[this.waitingHead] as PendingRequest;
      if (!request.settled && request.sentNs > deadline) break;
      this.waitingHead++;
      if (!request.settled) {
        this.settle(request, 'timeout', request.sentNs);
        const index = request.session.pending.indexOf(request);
        if (index >= 0) request.session.pending.splice(index, 1);
      }
    }
    // Compact now and then, so the queue's memory follows what is waiting, not what ever waited.
    if (this.waitingHead > 4096 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting.splice(0, this.waitingHead);
      this.waitingHead = 0;
    }
  }

  private closeIdle(): void {
    const idleBeforeMs = Date.now() - Math.max(2 * this.timeoutMs, 30_000);
    for (const session of this.sessions.values()) {
      if (session.pending.length === 0 && session.lastUsedMs < idleBeforeMs) {
        this.sessions.delete(session.key);
        this.closeSession(session);
      }
    }
  }

  private evictOldest(): void {
    let oldest: UpstreamSession | undefined;
    for (const session of this.sessions.values()) if (oldest === undefined || session.lastUsedMs < oldest.lastUsedMs) oldest = session;
    if (oldest === undefined) return;
    this.sessions.delete(oldest.key);
    this.closeSession(oldest);
  }

  private closeSession(session: UpstreamSession): void {
    if (session.closed) return;
    session.closed = true;
    try {
      session.socket.close();
    } catch {
      // Already closed by an error: nothing left to release.
    }
  }
}

function elapsedMs(sinceNs: bigint): number {
  return Number(process.hrtime.bigint() - sinceNs) / 1e6;
}
