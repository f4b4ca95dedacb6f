import { UsageError } from '../core/errors.ts';
import { getProtocol } from '../protocols/index.ts';
import { observedBackends, type RunTopology } from '../store/run-metadata.ts';
import { getRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';
import { verdictOf, type Analysis, type Metric, type RouteInfo } from './analysis.ts';
import { ANALYSIS_STEPS, DERIVED_TABLES } from './analysis-steps.ts';
import { baselineDrift, baselineFindings, loadBaseline } from './baseline.ts';
import { computeMetrics } from './compute-metrics.ts';
import { backendsOf, correlateRun, NO_BACKEND } from './correlate-run.ts';
import { coverageFindings, runStateFindings, analysedPartially } from './fail-closed.ts';
import { applyThresholds, relaySideFailures, replayFidelityFindings, selfReportFindings, thresholdFindings } from './judge.ts';
import { judgeWithinHarnessLag } from './latency-noise.ts';
import { relaySelfReport } from './relay-self-report.ts';
import { replayMetrics } from './replay-metrics.ts';
import { judgeWithinHarnessDrops } from './receive-drops.ts';
import { judgeLatenciesWithinUnrecorded, judgeWithinUnrecorded, latencyBands, unrecordedFindings, unrecordedOf } from './unrecorded.ts';
import { judgeWithinUnsentPayloads } from './unsent-payloads.ts';
import { captureNameOf, storeAnalysis } from './analysis-store.ts';
import { analyseHttpRun } from './http/analyse-http-run.ts';
import { analyseWsRun } from './ws/analyse-ws-run.ts';
import { analysePgRun } from './pg/analyse-pg-run.ts';
import { StepClock, stepName, type AnalysisProgress } from './step-clock.ts';
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
  /** HTTP runs: an analysed A/A run (the shadow a second copy of live) whose field differences are noise. */
  noise?: string;
  /** Uplink packets judged in one statement (05b, 05c); the default suits a day of traffic. */
  uplinksPerSlice?: bigint;
}

/**
 * From how many observations a run's analysis is large work (Store.readyForLargeWork, which weighs huge pages
 * against 4 KB ones in 5-40 ms): its tables then fill much of DuckDB's memory (200k observations peaked at 0.28 GB,
 * 1M at 0.5 GB, 10M at 1.6 GB, 100M at 11.7 GB), and the pages it touches for the first time can cost a fifth to a
 * third of its time on this project's machine. Weighed and in huge pages, 200k took 0.71-0.81 s against 0.77-0.88 s,
 * 1M 1.10-1.36 s against 1.51-1.64 s, 10M 6.2-6.5 s against 7.9 s (docs/performance.md, 2026-12-06). Smaller runs'
 * analyses are mostly fixed costs.
 */
export const LARGE_RUN_OBSERVATIONS = 100_000;

/**
 * Analyses a run: correlates every packet across its legs, computes the metrics, judges them against the thresholds
 * (and a baseline), and stores packet_parity, route_metrics, drift_windows and a verdict. Re-analysing a run replaces
 * its derived rows; verdicts accumulate.
 */
export async function analyseRun(store: Store, runName: string, options: AnalyseOptions = {}): Promise<Analysis> {
  const run = await getRun(store, runName);
  if (run.protocol === 'http') return analyseHttpRun(store, run, options);
  if (run.protocol === 'pg') return analysePgRun(store, run, options);
  // A flag a family cannot use is refused, never dropped: the run would be judged without what was asked.
  if (options.noise !== undefined) throw new UsageError(`--noise is for HTTP and Postgres runs; run "${run.name}" is ${run.protocol}`, { field: 'noise' });
  if (run.protocol === 'ws') {
    if (options.baseline !== undefined) throw new UsageError(`--baseline is not for WebSocket runs (each gateway is judged against the others in the same run); run "${run.name}" is ws`, { field: 'baseline' });
    return analyseWsRun(store, run, options);
  }
  const protocol = getProtocol(run.protocol);
  const thresholds = options.thresholds ?? reviveThresholds(run.thresholds) ?? defaultThresholds();
  const { topology, stats } = run;
  const expected = observedBackends(topology);
  const clock = new StepClock(options.progress);
  const { backends, reference, observations } = await clock.time('00-backends', () => backendsOf(store, run.runId, expected));
  if (observations >= LARGE_RUN_OBSERVATIONS) await clock.time('choose the page size', () => store.readyForLargeWork());
  await clock.time('clear earlier results', () => clearDerivedRows(store, run.runId));
  const mismatchSamples = await correlateRun(store, run.runId, { protocol, reference, backends, ignoreAckFields: thresholds.ignoreAckFields, ...(options.uplinksPerSlice !== undefined && { uplinksPerSlice: options.uplinksPerSlice }) }, clock);
  const startNs = run.startedNs ?? (await firstSendNs(store, run.runId));
  const metrics = await computeMetrics(store, run.runId, reference, startNs, clock);
  metrics.push(...replayMetrics(stats));
  const selfReport = await clock.time('12-relay-queue', () => relaySelfReport(store, run.runId, metrics, new Map(topology.backends.map((b) => [b.role, b.ip]))));
  if (selfReport?.maxQueue !== null && selfReport?.maxQueue !== undefined) {
    metrics.push({ metric: 'relay_queue', route: null, backend: null, value: selfReport.maxQueue, unit: 'count', status: null });
  }
  if (selfReport?.receiveDrops !== null && selfReport?.receiveDrops !== undefined) {
    metrics.push({ metric: 'relay_receive_drops', route: null, backend: null, value: selfReport.receiveDrops, unit: 'count', status: null });
  }
  // Per backend: a role may have several targets (a route's own primary address), each counted by the relay apart.
  const failedByBackend = new Map<string, number>();
  for (const target of selfReport?.targets ?? []) {
    if (target.claimedFailed !== null) failedByBackend.set(target.backend, (failedByBackend.get(target.backend) ?? 0) + relaySideFailures(target));
  }
  for (const [backend, value] of failedByBackend) metrics.push({ metric: 'relay_failed_sends', route: null, backend, value, unit: 'count', status: null });
  judgeWithinHarnessLag(metrics, run.harnessLag);
  judgeWithinHarnessDrops(metrics, stats, reference);
  judgeWithinUnsentPayloads(metrics, reference);
  const unrecorded = unrecordedOf(run);
  judgeWithinUnrecorded(metrics, unrecorded, reference);
  const bands = unrecorded > 0 ? await clock.time(stepName(ANALYSIS_STEPS.latencyBands.file), () => latencyBands(store, run.runId, reference, unrecorded)) : [];
  judgeLatenciesWithinUnrecorded(metrics, bands);
  applyThresholds(metrics, thresholds);
  const findings = [
    ...runStateFindings(run, stats, options.partial === true),
    ...unrecordedFindings(unrecorded),
    ...coverageFindings(metrics, { expected, observed: backends }, stats, thresholds.defaults.drop_rate.critical),
    ...thresholdFindings(metrics, mismatchSamples, protocol, reference),
    ...selfReportFindings(selfReport, thresholds.defaults.drop_rate),
    ...replayFidelityFindings(metrics, thresholds),
  ];
  if (options.baseline !== undefined) {
    const { baseline } = options;
    const drift = await clock.time(stepName(ANALYSIS_STEPS.latencyDrift.file), () => baselineDrift(store, run.runId, baseline, { reference, no_backend: NO_BACKEND }));
    findings.push(...baselineFindings(metrics, await loadBaseline(store, baseline), thresholds.baselineTolerance, baseline, drift));
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
    partial: analysedPartially(run, options.partial),
    steps: clock.timings,
  };
  await clock.time('store the verdict', () => storeAnalysis(store, analysis));
  return analysis;
}

async function clearDerivedRows(store: Store, runId: number): Promise<void> {
  for (const table of DERIVED_TABLES) await store.exec(`DELETE FROM ${table} WHERE run_id = $run_id`, { run_id: runId });
}

function routesOf(metrics: readonly Metric[], topology: RunTopology): RouteInfo[] {
  const ports = [...new Set(metrics.map((m) => m.route).filter((port): port is number => port !== null))].sort((a, b) => a - b);
  return ports.map((port) => {
    const known = topology.routes.find((route) => route.port === port);
    return { port, customer: known?.customer ?? '', device: known?.device ?? '' };
  });
}

async function firstSendNs(store: Store, runId: number): Promise<bigint> {
  const [row] = await store.query('SELECT min(sent_ns) AS first FROM packet_parity_rows WHERE run_id = $run_id', { run_id: runId });
  return typeof row?.first === 'bigint' ? row.first : 0n;
}

