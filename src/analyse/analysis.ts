import { formatDurationMs } from '../core/format.ts';
import type { RunRecord } from '../store/runs.ts';
import type { MetricStatus, Threshold, ThresholdConfig } from './thresholds.ts';

/**
 * INCOMPLETE: the run did not complete (interrupted, failed, abandoned, still running), so it proves nothing either
 * way; it exits 1 like NO-GO, so no CI gate can take it for a pass.
 */
export type Verdict = 'GO' | 'GO_WITH_WARNINGS' | 'NO_GO' | 'INCOMPLETE';
export type MetricUnit = 'ratio' | 'ms' | 'us' | 'count' | 'pps';

/** One measured value: per route (null: all routes) and backend (null: the devices' view, or the run). */
export interface Metric {
  metric: string;
  route: number | null;
  backend: string | null;
  value: number | null;
  unit: MetricUnit;
  /** Set only for thresholded metrics. */
  status: MetricStatus | null;
  threshold?: Threshold;
}

export interface Finding {
  severity: 'warning' | 'critical';
  /** threshold, mismatch, regression, relay_self_report, replay_fidelity */
  kind: string;
  metric: string;
  route: number | null;
  backend: string | null;
  value: number | null;
  message: string;
}

/** A pair of ACKs to the same request that differ after the ignore-mask: shown in reports with both sides. */
export interface MismatchSample {
  /** backend: a backend's ACK against the reference backend's; device: what a device got against the reference's. */
  view: 'backend' | 'device';
  uplinkId: number;
  route: number;
  device: string;
  backend: string;
  referenceHex: string;
  otherHex: string;
  referenceFields: Record<string, string | number | boolean>;
  otherFields: Record<string, string | number | boolean>;
  differingFields: string[];
  /** Each differing field with both values, as the protocol reads them (the ACK/NAK kind included). */
  differences: { field: string; label: string; reference: string; other: string }[];
}

export interface RouteInfo {
  port: number;
  customer: string;
  device: string;
}

export interface RelaySelfReport {
  samples: number;
  maxQueue: number | null;
  /** Per backend: what the relay said it sent, and what was observed. */
  /** Per backend: what the relay said it sent during the run (its counters' change), and what was observed. */
  targets: { backend: string; url: string; claimedSent: number; observedUplink: number; observedDelivered: number; restarted: boolean }[];
}

export interface Analysis {
  run: RunRecord;
  captureName: string | null;
  protocol: string;
  reference: string;
  backends: string[];
  routes: RouteInfo[];
  metrics: Metric[];
  findings: Finding[];
  verdict: Verdict;
  thresholds: ThresholdConfig;
  mismatchSamples: MismatchSample[];
  relaySelfReport: RelaySelfReport | null;
  baseline: string | null;
  /** A run that did not complete, analysed on request (--partial): reports say so first. */
  partial: boolean;
}

/**
 * The metrics a verdict is decided on: every route-level one, and an all-routes one only where no route-level twin
 * (same metric and backend) was judged. Per-route overrides then decide, and one fault is not counted twice.
 */
export function judgedMetrics(metrics: readonly Metric[]): Metric[] {
  const routeLevel = new Set(metrics.filter((m) => m.route !== null && m.status !== null).map((m) => `${m.metric}|${m.backend}`));
  return metrics.filter((m) => m.route !== null || !routeLevel.has(`${m.metric}|${m.backend}`));
}

/** A metric's value over all routes for a backend (null: the devices' view or the run), or null when not computed. */
export function overallValue(metrics: readonly Metric[], name: string, backend: string | null): number | null {
  return metrics.find((m) => m.metric === name && m.route === null && m.backend === backend)?.value ?? null;
}

export function verdictOf(metrics: readonly Metric[], findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.kind === 'run_state' && f.severity === 'critical')) return 'INCOMPLETE';
  const severities = [...judgedMetrics(metrics).map((m) => m.status), ...findings.map((f) => f.severity)];
  if (severities.includes('critical')) return 'NO_GO';
  if (severities.includes('warning')) return 'GO_WITH_WARNINGS';
  return 'GO';
}

/** Exit status of a verdict: GO 0, warnings 0 (1 with --strict), NO-GO 1; bad usage or input is 2 elsewhere. */
export function exitCodeOf(verdict: Verdict, strict: boolean): number {
  if (verdict === 'NO_GO' || verdict === 'INCOMPLETE') return 1;
  if (verdict === 'GO_WITH_WARNINGS') return strict ? 1 : 0;
  return 0;
}

/** Human names of metrics, for findings and reports: every metric the analysis computes has one. */
export const METRIC_LABELS: Record<string, string> = {
  sent: 'sent',
  delivered: 'delivered',
  lost: 'lost',
  duplicated: 'duplicated',
  reordered: 'reordered',
  drop_rate: 'frame drop rate',
  forward_latency_p50_ms: 'forward latency p50',
  forward_latency_p95_ms: 'forward latency p95',
  forward_latency_p99_ms: 'forward latency p99',
  forward_latency_max_ms: 'forward latency max',
  ack_expected: 'requests wanting an ACK',
  acked: 'ACKs sent',
  naks: 'NAKs sent',
  ack_latency_p50_ms: 'ACK latency p50',
  ack_latency_p95_ms: 'ACK latency p95',
  ack_latency_p99_ms: 'ACK latency p99',
  ack_latency_max_ms: 'ACK latency max',
  drift: 'target drift',
  drift_max_window: 'target drift (worst window)',
  ack_compared: 'ACK pairs compared',
  ack_mismatches: 'ACK pairs differing',
  ack_mismatch_rate: 'ACK mismatch rate',
  one_sided_acks: 'requests ACKed by one backend only',
  relay_queue: 'relay queue size',
  device_ack_expected: 'requests wanting an ACK',
  device_acks: 'ACKs reaching devices',
  device_ack_rate: 'share of requests ACKed at the device',
  device_ack_compared: 'device ACKs compared',
  device_ack_mismatches: 'device ACKs not the reference\'s',
  device_ack_mismatch_rate: 'device ACK mismatch rate',
  round_trip_p50_ms: 'device round trip p50',
  round_trip_p95_ms: 'device round trip p95',
  round_trip_p99_ms: 'device round trip p99',
  round_trip_max_ms: 'device round trip max',
  relay_added_latency_p50_ms: 'relay-added latency p50',
  relay_added_latency_p95_ms: 'relay-added latency p95',
  relay_added_latency_p99_ms: 'relay-added latency p99',
  replay_lateness_p50_us: 'replay lateness p50',
  replay_lateness_p99_us: 'replay lateness p99',
  replay_lateness_max_us: 'replay lateness max',
  replay_achieved_rate_pps: 'achieved replay rate',
  replay_asked_rate_pps: 'asked replay rate',
  replay_rate_share: 'achieved share of the asked rate',
  replay_send_errors: 'sends that failed',
};

export function metricLabel(metric: string): string {
  return METRIC_LABELS[metric] ?? metric.replace(/_/g, ' ');
}

export function formatMetricValue(value: number | null, unit: MetricUnit): string {
  if (value === null || Number.isNaN(value)) return '-';
  switch (unit) {
    case 'ratio':
      return `${(value * 100).toFixed(value !== 0 && Math.abs(value) < 0.001 ? 4 : 2)}%`;
    case 'ms':
      return formatDurationMs(value);
    case 'us':
      return formatDurationMs(value / 1000);
    case 'pps':
      return `${Math.round(value)} pps`;
    case 'count':
      return Math.round(value).toLocaleString('en-US');
  }
}
