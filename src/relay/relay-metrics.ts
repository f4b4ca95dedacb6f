import type { BackendType, RelayConfig } from './relay-config.ts';

/** Statuses of the `udp_relay` measurement (dual-mirroring spec, Status Semantics). */
export const RELAY_STATUSES = ['success', 'sent', 'timeout', 'dial_failed', 'write_failed', 'read_failed'] as const;
export type RelayStatus = (typeof RELAY_STATUSES)[number];

/** Latency histogram bounds, milliseconds. */
export const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

const RECENT_ACK_LATENCIES = 1000;

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

  constructor(
    readonly port: number,
    readonly target: string,
    readonly backendType: BackendType,
    readonly customer: string,
    readonly device: string,
  ) {}

  record(status: RelayStatus, latencyMs: number): void {
    this.counts[status]++;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_MS.length && latencyMs > (LATENCY_BUCKETS_MS[bucket] as number)) bucket++;
    this.buckets[bucket] = (this.buckets[bucket] ?? 0) + 1;
    this.latencySumMs += latencyMs;
    this.latencyCount++;
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
  /** Replies read off fire-and-forget sockets and discarded. */
  discardedReplies = 0;
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

  countDropped(reason: string): void {
    this.droppedByReason.set(reason, (this.droppedByReason.get(reason) ?? 0) + 1);
  }

  noteAckLatency(latencyMs: number): void {
    if (this.recentAckLatenciesMs.length < RECENT_ACK_LATENCIES) this.recentAckLatenciesMs.push(latencyMs);
    else this.recentAckLatenciesMs[this.recentIndex++ % RECENT_ACK_LATENCIES] = latencyMs;
  }
}
