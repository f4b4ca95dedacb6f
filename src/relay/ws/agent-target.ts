import WebSocket from 'ws';

/** Reconnect delays: from 500 ms, doubling, at most 30 s; a target that comes back is used again by itself. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** Ack latencies kept for the percentiles of /debug/parity. */
const LATENCY_SAMPLES = 1000;

export type TargetState = 'connecting' | 'connected' | 'disconnected' | 'disabled';

export interface TargetCounters {
  sent: number;
  failed: number;
  acked: number;
  dropped: number;
}

/**
 * One gateway the agent fans out to: its own WebSocket, reconnected with backoff, and its own bounded queue, so a
 * slow or dead gateway never holds another (graceful degradation). Frames that find the queue full are dropped and
 * counted; a frame whose write does not complete within the send timeout counts as failed.
 */
export class AgentTarget {
  readonly counters: TargetCounters = { sent: 0, failed: 0, acked: 0, dropped: 0 };
  state: TargetState = 'disconnected';
  lastSendOkMs: number | null = null;
  lastAckLatencyMs: number | null = null;
  lastError: string | null = null;
  readonly ackLatencies: number[] = [];
  private socket: WebSocket | undefined;
  private readonly queue: string[] = [];
  private readonly awaitingAck = new Map<string, number>();
  private backoffMs = BACKOFF_FIRST_MS;
  private reconnect: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(
    readonly url: string,
    private readonly options: { targetTimeoutMs: number; sendTimeoutMs: number; queueLimit: number },
  ) {}

  get queueSize(): number {
    return this.queue.length;
  }

  /** Connects (again) unless disabled; idempotent. */
  start(): void {
    if (this.state === 'connecting' || this.state === 'connected') return;
    this.state = 'connecting';
    const socket = new WebSocket(this.url, { handshakeTimeout: this.options.targetTimeoutMs });
    this.socket = socket;
    socket.on('open', () => {
      this.state = 'connected';
      this.backoffMs = BACKOFF_FIRST_MS;
      this.flush();
    });
    socket.on('message', (data) => this.onAck(data.toString()));
    socket.on('error', (error) => {
      this.lastError = error.message;
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (this.state === 'disabled') return;
      this.state = 'disconnected';
      this.reconnect = setTimeout(() => this.start(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    });
  }

  /** Closes and stays closed (kill switch, target disabled, agent stopping); queued frames are dropped and counted. */
  stop(): void {
    this.state = 'disabled';
    clearTimeout(this.reconnect);
    this.counters.dropped += this.queue.length;
    this.queue.length = 0;
    this.socket?.close();
    this.socket = undefined;
  }

  /** Queues a frame (text) for this target; `ackKey` when the frame asks for an ack. */
  enqueue(frame: string, ackKey: string | null): void {
    if (this.queue.length >= this.options.queueLimit) {
      this.counters.dropped++;
      return;
    }
    if (ackKey !== null) this.awaitingAck.set(ackKey, performance.now());
    this.queue.push(frame);
    this.flush();
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === undefined || this.state !== 'connected') return;
    while (this.queue.length > 0 && this.inFlight < 64) {
      const frame = this.queue.shift() as string;
      this.inFlight++;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.inFlight--;
        this.counters.failed++;
        this.lastError = `send timed out after ${this.options.sendTimeoutMs} ms`;
      }, this.options.sendTimeoutMs);
      socket.send(frame, (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.inFlight--;
        if (error === undefined || error === null) {
          this.counters.sent++;
          this.lastSendOkMs = Date.now();
        } else {
          this.counters.failed++;
          this.lastError = error.message;
        }
        this.flush();
      });
    }
  }

  private onAck(text: string): void {
    let ack: { type?: unknown; stream?: unknown; seq?: unknown };
    try {
      ack = JSON.parse(text) as typeof ack;
    } catch {
      return;
    }
    if (ack.type !== 'ack') return;
    const key = `${String(ack.stream)}#${String(ack.seq)}`;
    const sentAt = this.awaitingAck.get(key);
    if (sentAt === undefined) return;
    this.awaitingAck.delete(key);
    this.counters.acked++;
    this.lastAckLatencyMs = performance.now() - sentAt;
    this.ackLatencies.push(this.lastAckLatencyMs);
    if (this.ackLatencies.length > LATENCY_SAMPLES) this.ackLatencies.shift();
  }
}
