import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/errors.ts';
import { getRun } from '../store/runs.ts';
import { num, numOrNull, str, type Store } from '../store/store.ts';
import { formatMetricValue, metricLabel, type Finding, type Metric, type MetricUnit } from './analysis.ts';
import type { BaselineTolerance } from './thresholds.ts';

/** Metrics compared with a baseline, and how a rise is measured: relative for latency, absolute for rates. */
const COMPARED: Record<string, 'relative' | 'absolute'> = {
  ack_latency_p95_ms: 'relative',
  round_trip_p95_ms: 'relative',
  forward_latency_p95_ms: 'relative',
  drop_rate: 'absolute',
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
    const metrics = (parsed as { metrics?: unknown }).metrics;
    if (!Array.isArray(metrics)) throw new ConfigError(`${baseline}: has no "metrics" list; is it a parity report.json?`, { file: baseline, field: 'metrics' });
    return metrics as BaselineMetric[];
  }
  const run = await getRun(store, baseline);
  const rows = await store.query('SELECT route_port, backend, metric, value, unit FROM route_metrics WHERE run_id = $run_id', { run_id: run.runId });
  if (rows.length === 0) throw new ConfigError(`baseline run "${baseline}" has not been analysed yet: run parity analyse ${baseline} first`, { field: 'baseline' });
  return rows.map((row) => ({ metric: str(row.metric), route: numOrNull(row.route_port), backend: row.backend === null ? null : str(row.backend), value: numOrNull(row.value), unit: str(row.unit) as MetricUnit }));
}

/** Regressions beyond the tolerance are warnings; beyond twice the tolerance, critical. */
export function baselineFindings(metrics: readonly Metric[], baseline: readonly BaselineMetric[], tolerance: BaselineTolerance, baselineName: string): Finding[] {
  const before = new Map(baseline.map((m) => [`${m.metric}|${m.route}|${m.backend}`, m]));
  const findings: Finding[] = [];
  for (const metric of metrics) {
    const mode = COMPARED[metric.metric];
    const old = before.get(`${metric.metric}|${metric.route}|${metric.backend}`);
    if (mode === undefined || old?.value === null || old === undefined || metric.value === null) continue;
    const oldValue = num(old.value);
    const rise = mode === 'relative' ? (oldValue > 0 ? metric.value / oldValue - 1 : 0) : metric.value - oldValue;
    const allowed = mode === 'relative' ? tolerance.latencyIncrease : tolerance.rateIncrease;
    if (rise <= allowed) continue;
    const severity = rise > 2 * allowed ? 'critical' : 'warning';
    const where = metric.route === null ? '' : ` on route ${metric.route}`;
    const change = mode === 'relative' ? `+${(rise * 100).toFixed(0)}%` : `+${formatMetricValue(rise, metric.unit)}`;
    findings.push({
      severity,
      kind: 'regression',
      metric: metric.metric,
      route: metric.route,
      backend: metric.backend,
      value: metric.value,
      message: `${metric.backend ?? 'devices'}: ${metricLabel(metric.metric)}${where} regressed against ${baselineName}: ${formatMetricValue(oldValue, metric.unit)} -> ${formatMetricValue(metric.value, metric.unit)} (${change})`,
    });
  }
  return findings;
}
