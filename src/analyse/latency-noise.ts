/**
 * The noise the harness can measure in the latencies it judges, so that neither blames a healthy backend nor passes an
 * unproven one: the machine's drift, for latencies compared across runs, and the harness's own event-loop lateness,
 * for latencies it stamps and judges against fixed thresholds (run/harness-lag.ts).
 *
 * The drift. Two runs taken one after the other on a
 * shared machine differ by whatever else the machine did meanwhile; nothing in either run's p95 says how much. The
 * gap between the p95 of a run's first half and its second half (by send time) is that drift within one run, where
 * the system under test did not change: a difference between two runs is known only to within both runs' gaps.
 * On a quiet machine the gaps are a few milliseconds and change nothing; on a loaded one they keep a healthy shadow
 * from being blamed for the machine's stalls, and a real slowdown from hiding in them (both seen: +1,029 ms put on a
 * healthy shadow, and a proxy's 300 ms wait for its shadow missed, under two busy loops on two cores).
 */

import { runMetric, type Metric } from './analysis.ts';
import type { MetricName } from './metric-names.ts';
import type { HarnessLag } from '../run/harness-lag.ts';

/** How far the p95 moved between the halves of one run, or null when a half had no answers. */
export function halfGap(firstHalfP95: number | null, secondHalfP95: number | null): number | null {
  return firstHalfP95 === null || secondHalfP95 === null ? null : Math.abs(firstHalfP95 - secondHalfP95);
}

/**
 * The uncertainty of a difference between runs: each run's drift, combined as independent errors (the root of the sum
 * of their squares). Where sampling is the only noise, a half-run gap is about twice the standard error of the run's
 * p95, so this is about two standard errors of the difference; drift across the run widens it as it should. A run
 * whose drift is unknown (a half without answers, or a report.json baseline) adds nothing.
 */
export function comparisonUncertainty(...gaps: readonly (number | null | undefined)[]): number {
  return Math.sqrt(gaps.reduce<number>((sum, gap) => sum + (gap ?? 0) ** 2, 0));
}

/**
 * Latencies judged against a fixed threshold that are the difference of two stamps the harness took on its event
 * loop (a backend's own answer time between its receipt and its answer; what the relay added to the devices' round
 * trip): each stamp is late by up to the loop's lateness, so the difference is known only to within it.
 */
const STAMPED_LATENCIES: ReadonlySet<MetricName> = new Set(['ack_latency_p95_ms', 'answer_latency_p95_ms', 'relay_added_latency_p95_ms']);

/**
 * The run's harness lag as metrics (reported beside the verdict), and each stamped latency marked as known to within
 * its p99: on a quiet machine a few milliseconds, changing nothing; on a loaded one it keeps a healthy backend from
 * being blamed for the harness's own stalls. A run that did not measure it (written before, or elsewhere) keeps none.
 */
export function judgeWithinHarnessLag(metrics: Metric[], lag: HarnessLag | null): void {
  if (lag === null) return;
  for (const m of metrics) {
    if (!STAMPED_LATENCIES.has(m.metric) || m.value === null || (m.uncertainty ?? 0) >= lag.p99Ms) continue;
    m.uncertainty = lag.p99Ms;
    m.uncertaintySource = 'harness_lag';
  }
  metrics.push(runMetric('harness_lag_p99_ms', null, lag.p99Ms, 'ms'), runMetric('harness_lag_max_ms', null, lag.maxMs, 'ms'));
}
