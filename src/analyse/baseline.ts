import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/errors.ts';
import { getRun } from '../store/runs.ts';
import { num, numOrNull, str, type Store } from '../store/store.ts';
import { formatMetricValue, METRIC_UNITS, metricLabel, type Finding, type Metric, type MetricUnit } from './analysis.ts';
import { ANALYSIS_STEPS } from './analysis-steps.ts';
import { comparisonUncertainty } from './latency-noise.ts';
import type { BaselineTolerance } from './thresholds.ts';

/** Metrics compared with a baseline, and how a rise is measured: relative for latency, absolute for rates. */
const COMPARED: Record<string, 'relative' | 'absolute'> = {
  ack_latency_p95_ms: 'relative',
  round_trip_p95_ms: 'relative',
  forward_latency_p95_ms: 'relative',
  drop_rate: 'absolute',
  unreached_rate: 'absolute',
  extra_copy_rate: 'absolute',
  unasked_ack_rate: 'absolute',
  extra_ack_rate: 'absolute',
  junk_to_device_rate: 'absolute',
  unsent_payload_rate: 'absolute',
  ack_mismatch_rate: 'absolute',
  drift: 'absolute',
};

export interface BaselineMetric {
  metric: string;
  route: number | null;
  backend: string | null;
  value: number | null;
  unit: MetricUnit;
}

/** A baseline is a run in the store (its latest analysis) or a report.json written by `parity report`. */
export async function loadBaseline(store: Store, baseline: string): Promise<BaselineMetric[]> {
  if (baseline.endsWith('.json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(baseline, 'utf8'));
    } catch (cause) {
      throw new ConfigError(`${baseline}: not a readable report.json (${(cause as Error).message})`, { file: baseline }, { cause });
    }
    const metrics = typeof parsed === 'object' && parsed !== null ? (parsed as { metrics?: unknown }).metrics : undefined;
    if (!Array.isArray(metrics)) throw new ConfigError(`${baseline}: has no "metrics" list; is it a parity report.json?`, { file: baseline, field: 'metrics' });
    return metrics.map((entry, index) => baselineMetric(entry, baseline, index));
  }
  const run = await getRun(store, baseline);
  const rows = await store.query('SELECT route_port, backend, metric, value, unit FROM route_metrics WHERE run_id = $run_id', { run_id: run.runId });
  if (rows.length === 0) throw new ConfigError(`baseline run "${baseline}" has not been analysed yet: run parity analyse ${baseline} first`, { field: 'baseline' });
  return rows.map((row) => ({ metric: str(row.metric), route: numOrNull(row.route_port), backend: row.backend === null ? null : str(row.backend), value: numOrNull(row.value), unit: str(row.unit) as MetricUnit }));
}

const UNITS: ReadonlySet<string> = new Set<MetricUnit>(METRIC_UNITS);

/**
 * One entry of a report.json's `metrics`, checked field by field: an edited or damaged baseline whose values were
 * read as they came (a value as a string counted as 0) would move every comparison made against it, unseen.
 */
function baselineMetric(entry: unknown, file: string, index: number): BaselineMetric {
  const fault = (field: string, problem: string): ConfigError => new ConfigError(`${file}: metrics[${index}].${field} ${problem}`, { file, field: `metrics[${index}].${field}` });
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ConfigError(`${file}: metrics[${index}] is not an object`, { file, field: `metrics[${index}]` });
  const { metric, route, backend, value, unit } = entry as Record<string, unknown>;
  if (typeof metric !== 'string') throw fault('metric', 'must be a metric name');
  if (route !== null && !(typeof route === 'number' && Number.isInteger(route) && route >= 0 && route <= 65_535)) throw fault('route', 'must be a port or null');
  if (backend !== null && typeof backend !== 'string') throw fault('backend', 'must be a backend name or null');
  if (value !== null && !(typeof value === 'number' && Number.isFinite(value))) throw fault('value', 'must be a number or null');
  if (typeof unit !== 'string' || !UNITS.has(unit)) throw fault('unit', `must be one of ${[...UNITS].join(', ')}`);
  return { metric, route, backend, value, unit: unit as MetricUnit };
}

/**
 * Regressions beyond the tolerance are warnings; beyond twice the tolerance, critical. A latency rises by more than
 * its tolerance when it rises by more than `latency_increase` of the baseline's value and more than `latency_floor_ms`;
 * where `drift` gives the latency's uncertainty (latency-noise.ts), the rise is judged at both ends of it, and one
 * that straddles an edge is inconclusive: the machine may be what moved it.
 */
export function baselineFindings(
  metrics: readonly Metric[],
  baseline: readonly BaselineMetric[],
  tolerance: BaselineTolerance,
  baselineName: string,
  drift: ReadonlyMap<string, number> = new Map(),
): Finding[] {
  const before = new Map(baseline.map((m) => [`${m.metric}|${m.route}|${m.backend}`, m]));
  // A baseline with nothing to compare (a run of another protocol family, another relay's backends) would pass every
  // comparison by having none: refused, naming what was looked for.
  if (!metrics.some((m) => COMPARED[m.metric] !== undefined && before.has(`${m.metric}|${m.route}|${m.backend}`))) {
    throw new ConfigError(`baseline "${baselineName}" has none of the metrics compared (${Object.keys(COMPARED).join(', ')}) for the same backends: a baseline is an analysed run of the same protocol through the same backends`, { field: 'baseline' });
  }
  const findings: Finding[] = [];
  for (const metric of metrics) {
    const mode = COMPARED[metric.metric];
    const key = `${metric.metric}|${metric.route}|${metric.backend}`;
    const old = before.get(key);
    if (mode === undefined || old?.value === null || old === undefined || metric.value === null) continue;
    const oldValue = num(old.value);
    const rise = metric.value - oldValue;
    const allowed = mode === 'relative' ? Math.max(oldValue * tolerance.latencyIncrease, tolerance.latencyFloorMs) : tolerance.rateIncrease;
    const uncertainty = mode === 'relative' ? (drift.get(key) ?? 0) : 0;
    const severityOf = (r: number): Finding['severity'] | null => (r > 2 * allowed ? 'critical' : r > allowed ? 'warning' : null);
    const [low, high] = [severityOf(rise - uncertainty), severityOf(rise + uncertainty)];
    if (low === null && high === null) continue;
    const where = metric.route === null ? '' : ` on route ${metric.route}`;
    const change = (r: number): string => (mode === 'relative' ? (oldValue > 0 ? `${r >= 0 ? '+' : ''}${((r / oldValue) * 100).toFixed(0)}%` : `+${formatMetricValue(r, metric.unit)}`) : `+${formatMetricValue(r, metric.unit)}`);
    const who = `${metric.backend ?? 'devices'}: ${metricLabel(metric.metric)}${where}`;
    const finding = { kind: 'regression', metric: metric.metric, route: metric.route, backend: metric.backend, value: metric.value };
    if (low === high) {
      findings.push({ ...finding, severity: high ?? 'warning', message: `${who} regressed against ${baselineName}: ${formatMetricValue(oldValue, metric.unit)} -> ${formatMetricValue(metric.value, metric.unit)} (${change(rise)})` });
      continue;
    }
    findings.push({
      ...finding,
      severity: 'inconclusive',
      message:
        `${who} against ${baselineName} is inconclusive: ${formatMetricValue(oldValue, metric.unit)} -> ${formatMetricValue(metric.value, metric.unit)} ` +
        `± ${formatMetricValue(uncertainty, metric.unit)} (anywhere from ${change(rise - uncertainty)} to ${change(rise + uncertainty)}; a regression from ` +
        `+${formatMetricValue(allowed, metric.unit)}). The latency moved by that much within the runs compared (p95 of their first half against their ` +
        'second): the machine, or the system itself drifting within a run, may be what moved it, and the runs cannot tell which: nothing is ' +
        'blamed and nothing passes; run again on a quieter machine, or longer',
    });
  }
  return findings;
}

/**
 * Each latency compared with a baseline, and how far the machine alone may have moved it: this run's drift and the
 * baseline run's, combined (latency-noise.ts; a report.json baseline has no packets to measure: its drift counts as none).
 */
export async function baselineDrift(store: Store, runId: number, baseline: string, params: { reference: string; no_backend: string }): Promise<Map<string, number>> {
  const driftOf = async (id: number): Promise<Map<string, number | null>> => {
    const rows = await store.query(ANALYSIS_STEPS.latencyDrift.sql, { run_id: id, ...params });
    return new Map(rows.map((row) => [`${str(row.metric)}|${numOrNull(row.route_port)}|${row.backend === null ? null : str(row.backend)}`, numOrNull(row.drift_ms)]));
  };
  const now = await driftOf(runId);
  const then = baseline.endsWith('.json') ? new Map<string, number | null>() : await driftOf((await getRun(store, baseline)).runId);
  return new Map([...now].map(([key, gap]) => [key, comparisonUncertainty(gap, then.get(key))]));
}
