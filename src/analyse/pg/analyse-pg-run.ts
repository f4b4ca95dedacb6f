import type { JsonValue } from '../../core/json.ts';
import { getRun, type RunRecord } from '../../store/runs.ts';
import { ConfigError } from '../../core/errors.ts';
import { unansweredFindings, unansweredReasons } from '../unanswered.ts';
import type { StoredReplayStats } from '../../store/run-metadata.ts';
import { loadBaseline } from '../baseline.ts';
import { num, numOrNull, str, type Row, type Store } from '../../store/store.ts';
import { formatMetricValue, overallValue, verdictOf, type Analysis, type Finding, type Metric, rateOf, runMetric } from '../analysis.ts';
import { captureNameOf, storeAnalysis } from '../analysis-store.ts';
import type { AnalyseOptions } from '../analyse-run.ts';
import { sqlStep, type AnalysisStep } from '../analysis-steps.ts';
import { coverageFindings, runStateFindings, analysedPartially } from '../fail-closed.ts';
import { applyThresholds, replayFidelityFindings, thresholdFindings } from '../judge.ts';
import { comparisonUncertainty, halfGap, judgeWithinHarnessLag } from '../latency-noise.ts';
import { replayMetrics } from '../replay-metrics.ts';
import { StepClock, stepName } from '../step-clock.ts';
import { defaultThresholds, reviveThresholds } from '../thresholds.ts';

const step = (file: string): AnalysisStep => sqlStep(import.meta.url, file);

/** The Postgres family's SQL steps, in order. */
export const PG_ANALYSIS_STEPS = {
  databaseLegs: step('01-database-legs.sql'),
  resultParity: step('02-result-parity.sql'),
  mirrorOrder: step('03-mirror-order.sql'),
  clientLatency: step('04-client-latency.sql'),
} as const;

const metric = runMetric;
const rate = rateOf;
/** A sampling share this many standard errors from the configured exposure is not chance (two-sided p < 1e-4). */
const EXPOSURE_Z = 3.9;

interface PoolerCounts {
  total: number;
  mirrored: number;
  dropped: number;
  errors: { connection: number; query: number; timeout: number; buffer_full: number };
  exposure: number;
}

/**
 * Analyses a run through a mirroring pooler: per database what it received of what it was owed (the primary every
 * statement, the mirror what the pooler sampled and did not drop), its answer latency, the mirror's results against
 * the primary's statement by statement (row order of a query without ORDER BY is noise), order within sessions at the
 * mirror, the pooler's sampling against its configured exposure, its drops, and its own counts against what the
 * mirror's tap saw.
 */
export async function analysePgRun(store: Store, run: RunRecord, options: AnalyseOptions): Promise<Analysis> {
  const thresholds = options.thresholds ?? reviveThresholds(run.thresholds) ?? defaultThresholds();
  const clock = new StepClock(options.progress);
  const params = { run_id: run.runId };
  const S = PG_ANALYSIS_STEPS;
  await clock.time('clear earlier results', () => store.exec('DELETE FROM route_metrics WHERE run_id = $run_id', params));
  const legs = await clock.time(stepName(S.databaseLegs.file), () => store.query(S.databaseLegs.sql, params));
  const families = await clock.time(stepName(S.resultParity.file), () => store.query(S.resultParity.sql, params));
  const noise = await clock.time('A/A noise', () => aaNoise(store, options.noise ?? run.topology.calibration?.aa));
  for (const family of families) family.noise = noise.get(str(family.family)) ?? null;
  const [order] = await clock.time(stepName(S.mirrorOrder.file), () => store.query(S.mirrorOrder.sql, params));
  const client = await clock.time(stepName(S.clientLatency.file), () => runLatency(store, run.runId));
  const baselineName = options.baseline ?? run.topology.calibration?.noShadow;
  const baseline = baselineName === undefined ? undefined : await clock.time('baseline latency', () => baselineLatency(store, baselineName));
  const pooler = poolerCounts(run.topology.relay?.pooler);
  const sent = run.stats?.sent ?? 0;
  const sampled = pooler === undefined ? null : pooler.mirrored + pooler.errors.query + pooler.errors.connection + pooler.errors.timeout + pooler.dropped;
  const leg = (database: string): Row | undefined => legs.find((row) => str(row.database) === database);
  // A pooler whose own counts were not read: with full exposure it owes the mirror everything; with less, what it
  // sampled is unknown, and the mirror is judged on what reached it (said in a warning).
  const exposure = typeof run.topology.relay?.exposure === 'number' ? run.topology.relay.exposure : 1;
  const owedToMirror = pooler !== undefined && sampled !== null ? sampled - pooler.dropped : exposure >= 1 ? sent : num(leg('mirror')?.delivered);
  const compared = families.reduce((sum, f) => sum + num(f.compared), 0);
  const differing = families.filter((f) => !withinNoise(f)).reduce((sum, f) => sum + num(f.differing), 0);
  const metrics: Metric[] = [metric('sent', null, sent, 'count'), ...replayMetrics(run.stats)];
  metrics.push(
    metric('answered', null, client.answered, 'count'),
    metric('client_latency_p50_ms', null, client.p50, 'ms'),
    metric('client_latency_p95_ms', null, client.p95, 'ms'),
    metric('client_latency_p99_ms', null, client.p99, 'ms'),
    metric('latency_noise_p95_ms', null, client.drift, 'ms'),
  );
  if (baseline !== undefined) {
    // What mirroring adds to the live path: the same replay through a pooler that mirrors nothing, just before.
    const impact = (q: 'p50' | 'p95' | 'p99'): number | null => {
      const [now, before] = [client[q], baseline[q]];
      return now === null || before === null ? null : now - before;
    };
    // Known to within both runs' own drift (latency-noise.ts), and judged at both ends of it.
    const p95 = metric('live_latency_impact_p95_ms', null, impact('p95'), 'ms');
    if (p95.value !== null) p95.uncertainty = comparisonUncertainty(client.drift, baseline.drift);
    metrics.push(metric('live_latency_impact_p50_ms', null, impact('p50'), 'ms'), p95, metric('live_latency_impact_p99_ms', null, impact('p99'), 'ms'));
  }
  if (pooler !== undefined && sampled !== null) {
    metrics.push(metric('mirror_share', null, rate(sampled, pooler.total), 'ratio'), metric('pooler_dropped', null, pooler.dropped, 'count'), metric('pooler_drop_rate', 'mirror', rate(pooler.dropped, sampled), 'ratio'));
  }
  for (const [database, owed] of [['primary', sent], ['mirror', owedToMirror]] as const) {
    const row = leg(database);
    const delivered = num(row?.delivered);
    metrics.push(
      metric('sent', database, owed, 'count'),
      metric('delivered', database, delivered, 'count'),
      metric('lost', database, Math.max(0, owed - delivered), 'count'),
      metric('drop_rate', database, rate(Math.max(0, owed - delivered), owed), 'ratio'),
      metric('answer_latency_p50_ms', database, numOrNull(row?.p50_ms), 'ms'),
      metric('answer_latency_p95_ms', database, numOrNull(row?.p95_ms), 'ms'),
      metric('answer_latency_p99_ms', database, numOrNull(row?.p99_ms), 'ms'),
    );
  }
  metrics.push(
    metric('reordered', 'mirror', num(order?.out_of_order), 'count'),
    metric('reorder_rate', 'mirror', rate(num(order?.out_of_order), num(order?.received)), 'ratio'),
    metric('response_compared', 'mirror', compared, 'count'),
    metric('response_mismatches', 'mirror', differing, 'count'),
    metric('response_mismatch_rate', 'mirror', rate(differing, compared), 'ratio'),
  );
  judgeWithinHarnessLag(metrics, run.harnessLag);
  applyThresholds(metrics, thresholds);
  const expected = ['primary', ...(owedToMirror > 0 ? ['mirror'] : [])];
  // A statement the pooler left unanswered is the pooler's finding, never "could not send": it was sent.
  const stats: StoredReplayStats | null = run.stats === null ? null : { ...run.stats, sendErrors: 0 };
  const unanswered = await clock.time('unanswered statements', () => unansweredReasons(store, 'pg_sends', run.runId));
  const findings = [
    ...runStateFindings(run, stats, options.partial === true),
    ...coverageFindings(metrics, { expected, observed: legs.map((row) => str(row.database)) }, stats, thresholds.defaults.drop_rate.critical, 'statements'),
    ...unansweredFindings(metrics, 'statements', unanswered),
    ...thresholdFindings(metrics, [], null, 'primary'),
    ...familyFindings(families, metrics),
    ...notComparableFindings(families),
    ...(pooler === undefined || sampled === null ? unreadPoolerFindings(exposure) : poolerFindings(pooler, sampled, num(leg('mirror')?.delivered))),
    ...replayFidelityFindings(metrics, thresholds),
  ];
  const analysis: Analysis = {
    run,
    captureName: await captureNameOf(store, run.captureId),
    protocol: 'pg',
    reference: 'primary',
    backends: ['primary', 'mirror'],
    routes: [],
    metrics,
    findings,
    verdict: verdictOf(metrics, findings),
    thresholds,
    mismatchSamples: [],
    relaySelfReport: null,
    baseline: baselineName ?? null,
    partial: analysedPartially(run, options.partial),
    steps: clock.timings,
  };
  await clock.time('store the verdict', () => storeAnalysis(store, analysis));
  return analysis;
}

function poolerCounts(value: JsonValue | undefined): PoolerCounts | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, JsonValue>;
  const errors = (typeof v.errors === 'object' && v.errors !== null && !Array.isArray(v.errors) ? v.errors : {}) as Record<string, JsonValue>;
  const n = (x: JsonValue | undefined): number => (typeof x === 'number' ? x : 0);
  return { total: n(v.total), mirrored: n(v.mirrored), dropped: n(v.dropped), errors: { connection: n(errors.connection), query: n(errors.query), timeout: n(errors.timeout), buffer_full: n(errors.buffer_full) }, exposure: n(v.exposure) };
}

/** Noise is excused as in the HTTP family: up to the A/A run's rate, 20% relative and 0.03% absolute above it. */
const NOISE_RELATIVE = 0.2;
const NOISE_ABSOLUTE = 0.0003;

/** What the clients waited for, and how far its p95 drifted within the run (latency-noise.ts). */
interface ClientLatency {
  /** Statements that got an answer (an error's included); those that got none have no latency. */
  answered: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  drift: number | null;
}

async function runLatency(store: Store, runId: number): Promise<ClientLatency> {
  const [row] = await store.query(PG_ANALYSIS_STEPS.clientLatency.sql, { run_id: runId });
  const p = (key: string): number | null => numOrNull(row?.[key]);
  return { answered: num(row?.answered), p50: p('p50_ms'), p95: p('p95_ms'), p99: p('p99_ms'), drift: halfGap(p('p95_first_half_ms'), p('p95_second_half_ms')) };
}

/**
 * The client latency of the run's baseline: the same replay with mirroring off (the scenario's calibration run, or
 * --baseline: a run in the store, or a report.json of one). A baseline that is gone is an error, never a silent skip.
 */
async function baselineLatency(store: Store, name: string): Promise<ClientLatency> {
  if (!name.endsWith('.json')) return runLatency(store, (await getRun(store, name)).runId);
  const before = await loadBaseline(store, name);
  const value = (metric: string): number | null => overallValue(before, metric, null);
  const latency = { answered: value('answered') ?? 0, p50: value('client_latency_p50_ms'), p95: value('client_latency_p95_ms'), p99: value('client_latency_p99_ms'), drift: value('latency_noise_p95_ms') };
  if (latency.p95 === null) throw new ConfigError(`baseline "${name}" has no client latency: the baseline of a Postgres run is a report of one with mirroring off`, { field: 'baseline' });
  return latency;
}

/** Each statement family's share of differing results in the run's A/A run (two copies of the same database). */
async function aaNoise(store: Store, aa: string | undefined): Promise<Map<string, number>> {
  if (aa === undefined) return new Map();
  const rows = await store.query(PG_ANALYSIS_STEPS.resultParity.sql, { run_id: (await getRun(store, aa)).runId });
  return new Map(rows.filter((r) => num(r.compared) > 0).map((r) => [str(r.family), num(r.differing) / num(r.compared)]));
}

function withinNoise(family: Row): boolean {
  const noise = family.noise;
  if (typeof noise !== 'number' || noise === 0 || num(family.compared) === 0) return false;
  return num(family.differing) / num(family.compared) <= noise * (1 + NOISE_RELATIVE) + NOISE_ABSOLUTE;
}

/** Each statement family whose results differ at the mirror beyond its noise, named with how (when the mirror's results are judged off). */
function familyFindings(families: readonly Row[], metrics: readonly Metric[]): Finding[] {
  const status = metrics.find((m) => m.metric === 'response_mismatch_rate' && m.backend === 'mirror')?.status;
  if (status !== 'warning' && status !== 'critical') return [];
  return families
    .filter((f) => num(f.differing) > 0 && !withinNoise(f))
    .map((f) => ({
      severity: status,
      kind: 'result_parity',
      metric: 'response_mismatch_rate' as const,
      route: null,
      backend: 'mirror',
      value: num(f.differing),
      message: `mirror: statement family \`${str(f.family)}\`: ${formatMetricValue(num(f.differing), 'count')} of ${formatMetricValue(num(f.compared), 'count')} results differ from the primary's (${str(f.example)})${typeof f.noise === 'number' ? `, A/A noise ${formatMetricValue(f.noise, 'ratio')}` : ''}${num(f.order_only) > 0 ? `; ${formatMetricValue(num(f.order_only), 'count')} more differ in row order only, which a query without ORDER BY does not promise (noise)` : ''}`,
    }));
}

/** Statements the mirror ran after missing an earlier request of their session: not compared, and said so. */
function notComparableFindings(families: readonly Row[]): Finding[] {
  const skipped = families.reduce((sum, f) => sum + num(f.not_comparable), 0);
  if (skipped === 0) return [];
  return [{ severity: 'warning', kind: 'result_parity', metric: 'response_compared', route: null, backend: 'mirror', value: skipped, message: `mirror: ${formatMetricValue(skipped, 'count')} results were not compared: the mirror had missed an earlier request of their session (dropped by the pooler or lost after it), so its data may differ by that write` }];
}

function unreadPoolerFindings(exposure: number): Finding[] {
  return [{ severity: 'warning', kind: 'relay_self_report', metric: 'mirror_share', route: null, backend: 'mirror', value: null, message: `the pooler's own counts were not read (no /metrics): its drops and errors are not checked against the mirror's tap${exposure < 1 ? ', and with an exposure under 100% the statements the mirror missed cannot be told from those it was never sent' : ''}` }];
}

/**
 * The pooler against its configuration and against what the mirror received: a sampled share the configured exposure
 * cannot explain (a z-test, so 50% of a small run is not a finding and 45% of 100,000 requests is), and requests it
 * says it mirrored that never reached the mirror.
 */
function poolerFindings(pooler: PoolerCounts, sampled: number, mirrorReceived: number): Finding[] {
  const findings: Finding[] = [];
  const e = pooler.exposure;
  const share = pooler.total > 0 ? sampled / pooler.total : 0;
  const se = Math.sqrt((e * (1 - e)) / Math.max(1, pooler.total));
  const biased = e <= 0 || e >= 1 ? sampled !== Math.round(e * pooler.total) : Math.abs(share - e) > EXPOSURE_Z * se;
  if (pooler.total > 0 && biased) {
    findings.push({ severity: 'critical', kind: 'relay_self_report', metric: 'mirror_share', route: null, backend: 'mirror', value: share, message: `the pooler mirrored ${formatMetricValue(share, 'ratio')} of ${formatMetricValue(pooler.total, 'count')} requests, configured to mirror ${formatMetricValue(e, 'ratio')}: more than chance allows (±${formatMetricValue(EXPOSURE_Z * se, 'ratio')})` });
  }
  const claimed = pooler.mirrored + pooler.errors.query;
  if (claimed > mirrorReceived) {
    findings.push({ severity: 'critical', kind: 'relay_self_report', metric: 'relay_claimed_sent', route: null, backend: 'mirror', value: claimed, message: `the pooler says the mirror answered ${formatMetricValue(claimed, 'count')} requests; the mirror's tap saw ${formatMetricValue(mirrorReceived, 'count')} arrive: its metrics cannot be taken for what the mirror got` });
  }
  const forwarded = sampled - pooler.dropped;
  const unexplained = forwarded - mirrorReceived - pooler.errors.connection - pooler.errors.timeout;
  if (unexplained > 0) {
    findings.push({ severity: 'critical', kind: 'relay_self_report', metric: 'relay_claimed_sent', route: null, backend: 'mirror', value: unexplained, message: `${formatMetricValue(unexplained, 'count')} requests the pooler forwarded never reached the mirror, and the pooler counted no error for them: lost after it, unseen by its metrics` });
  }
  if (pooler.errors.connection + pooler.errors.timeout > 0) {
    findings.push({ severity: 'warning', kind: 'relay_self_report', metric: 'relay_claimed_sent', route: null, backend: 'mirror', value: pooler.errors.connection + pooler.errors.timeout, message: `the pooler could not reach the mirror for ${formatMetricValue(pooler.errors.connection, 'count')} requests (connection) and gave up on ${formatMetricValue(pooler.errors.timeout, 'count')} (timeout)` });
  }
  return findings;
}
