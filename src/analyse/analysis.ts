import type { StepTiming } from './step-clock.ts';
import type { ResponseFieldParity } from './http/response-fields.ts';
import type { StepOutcome } from './ws/playbook.ts';
import { formatDurationMs } from '../core/format.ts';
import type { RunRecord } from '../store/runs.ts';
import { isMetricName, METRIC_LABELS, type FindingSubject, type MetricName } from './metric-names.ts';
import { isOneSided, rangeOf, type MetricStatus, type Threshold, type ThresholdConfig } from './thresholds.ts';

/**
 * INCOMPLETE: the run did not complete (interrupted, failed, abandoned, still running), so it proves nothing either
 * way; it exits 1 like NO-GO, so no CI gate can take it for a pass.
 * INCONCLUSIVE: nothing failed, but a latency could not be judged (the machine's own variation, or the harness's own
 * lateness, straddles a threshold); it exits 1 too, and blames no backend.
 */
export type Verdict = 'GO' | 'GO_WITH_WARNINGS' | 'NO_GO' | 'INCOMPLETE' | 'INCONCLUSIVE';
export const METRIC_UNITS = ['ratio', 'ms', 'us', 'count', 'pps'] as const;
export type MetricUnit = (typeof METRIC_UNITS)[number];

/** One measured value: per route (null: all routes) and backend (null: the devices' view, or the run). */
export interface Metric {
  metric: MetricName;
  route: number | null;
  backend: string | null;
  value: number | null;
  unit: MetricUnit;
  /**
   * ± this much of the value may be the machine's own variation, not the system under test's: set on values compared
   * across runs (a latency with and without a shadow), from the latency's drift within each run.
   */
  uncertainty?: number;
  /**
   * What the uncertainty is: the runs' drift (compared across runs), or the harness's own event-loop lateness, both
   * either way of the value; or answers the replayer's own sockets dropped, which can only have lowered it (the value
   * lies between itself and itself plus the uncertainty); or packets that reached a backend altered (`unsent_payloads`),
   * which can only have made its loss look worse, the same way; or datagrams a recording could not record
   * (`unrecorded`), either way of the value.
   */
  uncertaintySource?: 'drift' | 'harness_lag' | 'harness_drops' | 'unsent_payloads' | 'unrecorded';
  /**
   * Where the value can lie, where that is not the same either way of it (a latency percentile of a recording that
   * missed datagrams: the samples that many places below and above it); judged and shown instead of value ±
   * uncertainty, which then spans it. -Infinity or Infinity: no bound on that side.
   */
  bounds?: readonly [number, number];
  /** Set only for thresholded metrics. */
  status: MetricStatus | null;
  threshold?: Threshold;
}

export interface Finding {
  /** inconclusive: a comparison the harness could not judge (see Verdict); never a pass. */
  severity: 'warning' | 'critical' | 'inconclusive';
  /** threshold, mismatch, regression, relay_self_report, replay_fidelity */
  kind: string;
  metric: MetricName | FindingSubject;
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
  /**
   * Devices' packets the relay said its kernel dropped on arrival during the run (its /debug/parity `receiveDrops`,
   * first sample to last); null: it does not say.
   */
  receiveDrops: number | null;
  /** What the devices sent during the run, as observed: what the relay's counts are set against. */
  observedUplink: number;
  /**
   * Per backend: what the relay said it sent during the run (its counters' change), of that what it said failed at its
   * side and why (its send errors by kind; null: its targets view does not count them), and what was observed.
   */
  targets: {
    backend: string;
    url: string;
    claimedSent: number;
    claimedFailed: number | null;
    failedKinds: Record<string, number>;
    observedUplink: number;
    observedDelivered: number;
    restarted: boolean;
  }[];
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
  /** HTTP runs: each response field of the compared answers, how often it differed, and whether that counts. */
  responseFields?: ResponseFieldParity[];
  /** WebSocket runs with a playbook: each step, the frames sent after it, and who processed them against who should have. */
  playbook?: StepOutcome[];
  relaySelfReport: RelaySelfReport | null;
  baseline: string | null;
  /** A run that did not complete, analysed on request (--partial): reports say so first. */
  partial: boolean;
  /** How long each step of this analysis took, in order. */
  steps: StepTiming[];
}

/**
 * The metrics a verdict is decided on: every route-level one, and an all-routes one only where no route-level twin
 * (same metric and backend) was judged. Per-route overrides then decide, and one fault is not counted twice.
 */
export function judgedMetrics(metrics: readonly Metric[]): Metric[] {
  const routeLevel = new Set(metrics.filter((m) => m.route !== null && m.status !== null).map((m) => `${m.metric}|${m.backend}`));
  return metrics.filter((m) => m.route !== null || !routeLevel.has(`${m.metric}|${m.backend}`));
}

/**
 * A metric's value over all routes for a backend (null: the devices' view or the run), or null when not computed; of
 * this analysis's metrics or a baseline's (report.json's, or another run's stored ones).
 */
export function overallValue(metrics: readonly (Pick<Metric, 'route' | 'backend' | 'value'> & { metric: string })[], name: string, backend: string | null): number | null {
  return metrics.find((m) => m.metric === name && m.route === null && m.backend === backend)?.value ?? null;
}

export function verdictOf(metrics: readonly Metric[], findings: readonly Finding[]): Verdict {
  if (findings.some((f) => f.kind === 'run_state' && f.severity === 'critical')) return 'INCOMPLETE';
  const severities = [...judgedMetrics(metrics).map((m) => m.status), ...findings.map((f) => f.severity)];
  if (severities.includes('critical')) return 'NO_GO';
  if (severities.includes('inconclusive')) return 'INCONCLUSIVE';
  if (severities.includes('warning')) return 'GO_WITH_WARNINGS';
  return 'GO';
}

/** Exit status of a verdict: GO 0, warnings 0 (1 with --strict), NO-GO, INCOMPLETE and INCONCLUSIVE 1; bad usage or input is 2 elsewhere. */
export function exitCodeOf(verdict: Verdict, strict: boolean): number {
  if (verdict === 'NO_GO' || verdict === 'INCOMPLETE' || verdict === 'INCONCLUSIVE') return 1;
  if (verdict === 'GO_WITH_WARNINGS') return strict ? 1 : 0;
  return 0;
}

export function metricLabel(metric: string): string {
  return isMetricName(metric) ? METRIC_LABELS[metric] : metric.replace(/_/g, ' ');
}

/** A metric over the whole run (no route), of a backend or of the run itself, not yet judged. */
export const runMetric = (name: MetricName, backend: string | null, value: number | null, unit: MetricUnit): Metric => ({ metric: name, route: null, backend, value, unit, status: null });

/**
 * `m` may be better by up to `count` of the `missing` it counts, out of `whole`, for a reason that can only have made it
 * look worse (`isOneSided`): added to what an earlier such reason widened, which keeps naming the uncertainty.
 */
export function widenOneSided(m: Metric, count: number, missing: number, whole: number, source: 'harness_drops' | 'unsent_payloads'): void {
  const share = whole > 0 ? Math.min(count, Math.max(0, missing)) / whole : 0;
  if (share <= 0) return;
  m.uncertainty = (m.uncertainty ?? 0) + share;
  m.uncertaintySource ??= source;
}

/** A share, or null when there is nothing to take it of. */
export const rateOf = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

/** A metric's value as reports print it, with its uncertainty where it has one ("+12.0 ms ± 40.0 ms", "99.20% to 99.70%"). */
export function formatMeasured(metric: Pick<Metric, 'metric' | 'value' | 'unit' | 'uncertainty' | 'uncertaintySource' | 'bounds'>): string {
  const value = formatMetricValue(metric.value, metric.unit);
  if (metric.uncertainty === undefined || metric.value === null) return value;
  if (metric.bounds !== undefined) return `${value} (${formatMetricValue(metric.bounds[0], metric.unit)} to ${formatMetricValue(metric.bounds[1], metric.unit)})`;
  if (isOneSided(metric.uncertaintySource)) {
    const [low, high] = rangeOf({ ...metric, value: metric.value });
    return `${formatMetricValue(low, metric.unit)} to ${formatMetricValue(high, metric.unit)}`;
  }
  return `${value} ± ${formatMetricValue(metric.uncertainty, metric.unit)}`;
}

export function formatMetricValue(value: number | null, unit: MetricUnit): string {
  if (value === null || Number.isNaN(value)) return '-';
  // An uncertainty without bound (a latency percentile more samples may be missing of than lie beyond it).
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
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
