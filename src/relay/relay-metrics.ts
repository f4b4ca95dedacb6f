import { socketErrorKind } from '../core/socket-errors.ts';
import type { BackendType, RelayConfig } from './relay-config.ts';

/** Statuses of the `udp_relay` measurement (dual-mirroring spec, Status Semantics). */
export const RELAY_STATUSES = ['success', 'sent', 'timeout', 'dial_failed', 'write_failed', 'read_failed'] as const;
export type RelayStatus = (typeof RELAY_STATUSES)[number];

/** Latency histogram bounds, milliseconds. */
export const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

const RECENT_ACK_LATENCIES = 1000;
/** Health is judged over this recent window, in one-second buckets: a fault that is over stops counting against it. */
export const HEALTH_WINDOW_SECONDS = 30;
const FAILURE_STATUSES: ReadonlySet<RelayStatus> = new Set(['timeout', 'dial_failed', 'write_failed', 'read_failed']);

/** One backend of one route: the spec's tag set, and everything counted under it. */
export class BackendSeries {
  readonly counts: Record<RelayStatus, number> = { success: 0, sent: 0, timeout: 0, dial_failed: 0, write_failed: 0, read_failed: 0 };
  readonly buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  latencySumMs = 0;
  latencyCount = 0;
  /** Packets handed to this backend, whatever came of them (counted at the send, not at its outcome). */
  issued = 0;
  /** Packets the relay did not send to this backend (kill switch, target disabled). */
  dropped = 0;
  /** Requests waiting for this backend's ACK right now. */
  inFlight = 0;
  lastSendOkMs: number | null = null;
  lastAckLatencyMs: number | null = null;
  lastError: string | null = null;
  /**
   * Why sends to this backend failed, by reason: what the kernel reported (ICMP unreachable and the like, a full send
   * queue) and the relay's own refusals (no socket for it: its budget, a share, the kernel's refusal to make one).
   */
  readonly errors = new Map<string, number>();
  /** Outcomes per second over the health window: [second, ok, failed] rings. */
  private readonly windowSecond = new Float64Array(HEALTH_WINDOW_SECONDS);
  private readonly windowOk = new Uint32Array(HEALTH_WINDOW_SECONDS);
  private readonly windowFailed = new Uint32Array(HEALTH_WINDOW_SECONDS);

  constructor(
    readonly port: number,
    readonly target: string,
    readonly backendType: BackendType,
    readonly customer: string,
    readonly device: string,
  ) {}

  record(status: RelayStatus, latencyMs: number): void {
    this.counts[status]++;
    if (FAILURE_STATUSES.has(status)) this.noteFailure();
    else (this.windowOk[this.indexOfNow()] as number)++;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_MS.length && latencyMs > (LATENCY_BUCKETS_MS[bucket] as number)) bucket++;
    this.buckets[bucket] = (this.buckets[bucket] ?? 0) + 1;
    this.latencySumMs += latencyMs;
    this.latencyCount++;
  }

  /** A failure that is not a packet's status (an ICMP error on a fire-and-forget socket) still counts for health. */
  noteFailure(): void {
    (this.windowFailed[this.indexOfNow()] as number)++;
  }

  /** Outcomes over the last HEALTH_WINDOW_SECONDS. */
  recent(): { ok: number; failed: number } {
    const now = Math.floor(Date.now() / 1000);
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < HEALTH_WINDOW_SECONDS; i++) {
      if (now - (this.windowSecond[i] as number) >= HEALTH_WINDOW_SECONDS) continue;
      ok += this.windowOk[i] as number;
      failed += this.windowFailed[i] as number;
    }
    return { ok, failed };
  }

  /** The ring index of the current second, reset when the ring comes round to it again. No allocation per packet. */
  private indexOfNow(): number {
    const second = Math.floor(Date.now() / 1000);
    const index = second % HEALTH_WINDOW_SECONDS;
    if (this.windowSecond[index] !== second) {
      this.windowSecond[index] = second;
      this.windowOk[index] = 0;
      this.windowFailed[index] = 0;
    }
    return index;
  }
}

/**
 * Every counter of the relay. Series are created once per (route, backend) when a configuration is applied, so the
 * packet path increments plain fields and never builds a label string. Series of removed routes stay: counters are
 * cumulative over the process's life, as Prometheus expects.
 */
export class RelayMetrics {
  private readonly series = new Map<string, BackendSeries>();
  readonly receivedByPort = new Map<number, number>();
  readonly deviceAcksByPort = new Map<number, number>();
  readonly droppedByReason = new Map<string, number>();
  /** Replies from a backend that came after their request timed out, or with none pending. */
  lateReplies = 0;
  /** Replies on a device's binding with no request pending, long after any timeout: never relayed. */
  strayReplies = 0;
  /** Replies read off fire-and-forget sockets and discarded. */
  discardedReplies = 0;
  /** Idle bindings given up so a new device could have a socket within the budget. */
  evictedBindings = 0;
  /** Datagrams the route's protocol says expect no reply, per port: sent without waiting for an ACK. */
  readonly noReplyByPort = new Map<number, number>();
  /** Requests the relay could not send upstream, by reason (socket_budget, socket_error). */
  readonly refusedByReason = new Map<string, number>();
  readonly recentAckLatenciesMs: number[] = [];
  private recentIndex = 0;

  seriesFor(port: number, backendType: BackendType, target: string, customer: string, device: string): BackendSeries {
    const key = `${port}|${backendType}|${target}|${customer}|${device}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = new BackendSeries(port, target, backendType, customer, device);
      this.series.set(key, series);
    }
    return series;
  }

  /** Creates the series a configuration will use, so they show (at zero) before the first packet. */
  prepare(config: RelayConfig): void {
    for (const route of config.routes.values()) {
      for (const backend of route.backends) this.seriesFor(route.port, backend.type, backend.ip, route.customer, route.device);
    }
  }

  allSeries(): BackendSeries[] {
    return [...this.series.values()];
  }

  countReceived(port: number): void {
    this.receivedByPort.set(port, (this.receivedByPort.get(port) ?? 0) + 1);
  }

  countDeviceAck(port: number): void {
    this.deviceAcksByPort.set(port, (this.deviceAcksByPort.get(port) ?? 0) + 1);
  }

  countNoReply(port: number): void {
    this.noReplyByPort.set(port, (this.noReplyByPort.get(port) ?? 0) + 1);
  }

  /** A packet the relay refused for want of a socket (`reason`), counted overall and on the backend's series. */
  countRefused(reason: string, series?: BackendSeries): void {
    this.refusedByReason.set(reason, (this.refusedByReason.get(reason) ?? 0) + 1);
    if (series !== undefined) series.errors.set(reason, (series.errors.get(reason) ?? 0) + 1);
  }

  countBackendError(series: BackendSeries, code: string | undefined): void {
    const reason = socketErrorKind(code);
    series.errors.set(reason, (series.errors.get(reason) ?? 0) + 1);
  }

  countDropped(reason: string): void {
    this.droppedByReason.set(reason, (this.droppedByReason.get(reason) ?? 0) + 1);
  }

  noteAckLatency(latencyMs: number): void {
    if (this.recentAckLatenciesMs.length < RECENT_ACK_LATENCIES) this.recentAckLatenciesMs.push(latencyMs);
    else this.recentAckLatenciesMs[this.recentIndex++ % RECENT_ACK_LATENCIES] = latencyMs;
  }
}
