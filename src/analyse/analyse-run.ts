import { UsageError } from '../core/errors.ts';
import { getProtocol } from '../protocols/index.ts';
import { observedBackends, type RunTopology, type StoredReplayStats } from '../store/run-metadata.ts';
import { getRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import { verdictOf, type Analysis, type Metric, type RouteInfo } from './analysis.ts';
import type { MetricName } from './metric-names.ts';
import { DERIVED_TABLES } from './analysis-steps.ts';
import { baselineFindings, loadBaseline } from './baseline.ts';
import { computeMetrics } from './compute-metrics.ts';
import { backendsOf, correlateRun } from './correlate-run.ts';
import { coverageFindings, runStateFindings } from './fail-closed.ts';
import { applyThresholds, replayFidelityFindings, selfReportFindings, thresholdFindings } from './judge.ts';
import { relaySelfReport } from './relay-self-report.ts';
import { StepClock, type AnalysisProgress } from './step-clock.ts';
import { defaultThresholds, reviveThresholds, type ThresholdConfig } from './thresholds.ts';

export interface AnalyseOptions {
  /** Thresholds to judge by; without them, those stored with the run (a scenario's), else the defaults. */
  thresholds?: ThresholdConfig;
  /** A run name or a report.json path to compare against. */
  baseline?: string;
  /** Analyse a run that did not complete, and say so, instead of calling it INCOMPLETE. */
  partial?: boolean;
  /** Told as each step starts and ends. */
  progress?: AnalysisProgress;
}


/**
 * Analyses a run: correlates every packet across its legs, computes the metrics, judges them against the thresholds
 * (and a baseline), and stores packet_parity, route_metrics, drift_windows and a verdict. Re-analysing a run replaces
 * its derived rows; verdicts accumulate.
 */
export async function analyseRun(store: Store, runName: string, options: AnalyseOptions = {}): Promise<Analysis> {
  const run = await getRun(store, runName);
  // An HTTP replay's sends are recorded (http_sends), but its legs are not judged yet: no verdict rather than a wrong one.
  if (run.protocol === 'http') throw new UsageError(`run "${run.name}" replayed HTTP: the analysis of HTTP runs is not built yet (its sends are in http_sends)`, { field: 'run' });
  const protocol = getProtocol(run.protocol);
  const thresholds = options.thresholds ?? reviveThresholds(run.thresholds) ?? defaultThresholds();
  const { topology, stats } = run;
  const expected = observedBackends(topology);
  const clock = new StepClock(options.progress);
  const { backends, reference } = await clock.time('00-backends', () => backendsOf(store, run.runId, expected));
  await clock.time('clear earlier results', () => clearDerivedRows(store, run.runId));
  const mismatchSamples = await correlateRun(store, run.runId, { protocol, reference, backends, ignoreAckFields: thresholds.ignoreAckFields }, clock);
  const startNs = run.startedNs ?? (await firstSendNs(store, run.runId));
  const metrics = await computeMetrics(store, run.runId, reference, startNs, clock);
  metrics.push(...replayMetrics(stats));
  const selfReport = await clock.time('12-relay-queue', () => relaySelfReport(store, run.runId, metrics, new Map(topology.backends.map((b) => [b.role, b.ip]))));
  if (selfReport?.maxQueue !== null && selfReport?.maxQueue !== undefined) {
    metrics.push({ metric: 'relay_queue', route: null, backend: null, value: selfReport.maxQueue, unit: 'count', status: null });
  }
  applyThresholds(metrics, thresholds);
  const findings = [
    ...runStateFindings(run, stats, options.partial === true),
    ...coverageFindings(metrics, { expected, observed: backends }, stats, thresholds.defaults.drop_rate.critical),
    ...thresholdFindings(metrics, mismatchSamples, protocol, reference),
    ...selfReportFindings(selfReport),
    ...replayFidelityFindings(metrics, thresholds),
  ];
  if (options.baseline !== undefined) {
    findings.push(...baselineFindings(metrics, await loadBaseline(store, options.baseline), thresholds.baselineTolerance, options.baseline));
  }
  const analysis: Analysis = {
    run,
    captureName: await captureNameOf(store, run.captureId),
    protocol: protocol.name,
    reference,
    backends,
    routes: routesOf(metrics, topology),
    metrics,
    findings,
    verdict: verdictOf(metrics, findings),
    thresholds,
    mismatchSamples,
    relaySelfReport: selfReport,
    baseline: options.baseline ?? null,
    partial: options.partial === true && run.status !== 'completed',
    steps: clock.timings,
  };
  await clock.time('store the verdict', () => storeAnalysis(store, analysis));
  return analysis;
}

async function clearDerivedRows(store: Store, runId: number): Promise<void> {
  for (const table of DERIVED_TABLES) await store.exec(`DELETE FROM ${table} WHERE run_id = $run_id`, { run_id: runId });
}

function replayMetrics(stats: StoredReplayStats | null): Metric[] {
  if (stats === null || stats.lateness === null) return [];
  const metric = (name: MetricName, value: number | null, unit: Metric['unit']): Metric => ({ metric: name, route: null, backend: null, value, unit, status: null });
  const asked = stats.askedRatePps;
  const achieved = stats.achievedRatePps;
  return [
    metric('replay_lateness_p50_us', stats.lateness.p50Us, 'us'),
    metric('replay_lateness_p99_us', stats.lateness.p99Us, 'us'),
    metric('replay_lateness_max_us', stats.lateness.maxUs, 'us'),
    metric('replay_achieved_rate_pps', achieved, 'pps'),
    metric('replay_asked_rate_pps', asked, 'pps'),
    metric('replay_rate_share', asked !== null && achieved !== null && asked > 0 ? achieved / asked : null, 'ratio'),
    metric('replay_send_errors', stats.sendErrors, 'count'),
  ];
}

function routesOf(metrics: readonly Metric[], topology: RunTopology): RouteInfo[] {
  const ports = [...new Set(metrics.map((m) => m.route).filter((port): port is number => port !== null))].sort((a, b) => a - b);
  return ports.map((port) => {
    const known = topology.routes.find((route) => route.port === port);
    return { port, customer: known?.customer ?? '', device: known?.device ?? '' };
  });
}

async function firstSendNs(store: Store, runId: number): Promise<bigint> {
  const [row] = await store.query('SELECT min(sent_ns) AS first FROM packet_parity WHERE run_id = $run_id', { run_id: runId });
  return typeof row?.first === 'bigint' ? row.first : 0n;
}

async function captureNameOf(store: Store, captureId: number | null): Promise<string | null> {
  if (captureId === null) return null;
  const [row] = await store.query('SELECT name FROM captures WHERE capture_id = $id', { id: captureId });
  return typeof row?.name === 'string' ? row.name : null;
}

async function storeAnalysis(store: Store, analysis: Analysis): Promise<void> {
  const runId = analysis.run.runId;
  const labels = new Map(analysis.routes.map((route) => [route.port, route]));
  const appender = await store.createAppender('route_metrics');
  for (const m of analysis.metrics) {
    const route = m.route === null ? undefined : labels.get(m.route);
    appender.appendInteger(runId);
    if (m.route === null) appender.appendNull();
    else appender.appendInteger(m.route);
    appender.appendVarchar(route?.customer ?? '');
    appender.appendVarchar(route?.device ?? '');
    if (m.backend === null) appender.appendNull();
    else appender.appendVarchar(m.backend);
    appender.appendVarchar(m.metric);
    if (m.value === null || Number.isNaN(m.value)) appender.appendNull();
    else appender.appendDouble(m.value);
    appender.appendVarchar(m.unit);
    if (m.status === null) appender.appendNull();
    else appender.appendVarchar(m.status);
    appender.endRow();
  }
  appender.closeSync();
  await store.exec('INSERT INTO verdicts (run_id, verdict, findings, thresholds, baseline) VALUES ($run_id, $verdict, $findings, $thresholds, $baseline)', {
    run_id: runId,
    verdict: analysis.verdict,
    findings: JSON.stringify(analysis.findings),
    thresholds: JSON.stringify(analysis.thresholds),
    baseline: analysis.baseline,
  });
}
