import { ConfigError } from '../../core/errors.ts';
import { observedBackends, type StoredReplayStats } from '../../store/run-metadata.ts';
import { getRun, type RunRecord } from '../../store/runs.ts';
import { num, numOrNull, str, type Row, type Store } from '../../store/store.ts';
import { overallValue, verdictOf, type Analysis, type Finding, type Metric, rateOf, runMetric } from '../analysis.ts';
import { captureNameOf, storeAnalysis } from '../analysis-store.ts';
import type { AnalyseOptions } from '../analyse-run.ts';
import { loadBaseline } from '../baseline.ts';
import { coverageFindings, runStateFindings, analysedPartially } from '../fail-closed.ts';
import { applyThresholds, replayFidelityFindings, thresholdFindings } from '../judge.ts';
import { comparisonUncertainty, halfGap, judgeWithinHarnessLag } from '../latency-noise.ts';
import { isMetricName } from '../metric-names.ts';
import { replayMetrics } from '../replay-metrics.ts';
import { StepClock, stepName } from '../step-clock.ts';
import { defaultThresholds, reviveThresholds, type ThresholdConfig } from '../thresholds.ts';
import { HTTP_ANALYSIS_STEPS as S, HTTP_DERIVED_TABLES } from './http-steps.ts';
import { explainFindings, fieldDetails, headerDetails, noiseFindings } from './http-findings.ts';
import { unansweredFindings, unansweredReasons, type UnansweredReason } from '../unanswered.ts';
import { compareAnswers, countDifferingPairs, judgeFields, type ResponseFieldParity } from './response-fields.ts';

/** The backend whose answers the client gets, and every other backend is compared against. */
export const LIVE = 'live';

const metric = runMetric;
const rate = rateOf;

/**
 * Analyses a run through a shadowing HTTP proxy: follows every request the client sent to each backend by its
 * X-Request-ID, checks it arrived whole (body, Content-Length, method, path, headers), compares the shadow's answers
 * with the live ones by status and field by field (less the noise an A/A run measured), and measures what shadowing
 * adds to the live path against a run with no shadow (the baseline). Same run model, metrics, verdict and reports as
 * the UDP family.
 */
export async function analyseHttpRun(store: Store, run: RunRecord, options: AnalyseOptions): Promise<Analysis> {
  const thresholds = options.thresholds ?? reviveThresholds(run.thresholds) ?? defaultThresholds();
  const expected = observedBackends(run.topology);
  // A scenario's run is judged by its calibration runs unless told otherwise: the same verdict on every re-analysis.
  const calibration = run.topology.calibration ?? {};
  const baseline = options.baseline ?? calibration.noShadow;
  const noiseRun = options.noise ?? calibration.aa;
  const clock = new StepClock(options.progress);
  const params = { run_id: run.runId };
  await clock.time('clear earlier results', async () => {
    for (const table of HTTP_DERIVED_TABLES) await store.exec(`DELETE FROM ${table} WHERE run_id = $run_id`, params);
  });
  for (const step of [S.legs, S.headerParity]) await clock.time(stepName(step.file), () => store.exec(step.sql, params));
  const legRows = await clock.time(stepName(S.backendMetrics.file), () => store.query(S.backendMetrics.sql, params));
  const backends = [...new Set([...legRows.map((row) => str(row.backend)), ...expected])].sort();
  const reference = backends.includes(LIVE) ? LIVE : (backends[0] ?? LIVE);
  const [client] = await clock.time(stepName(S.clientMetrics.file), () => store.query(S.clientMetrics.sql, params));
  const metrics = [...clientMetrics(client), ...legRows.flatMap(backendMetrics), ...replayMetrics(run.stats)];
  // Only where two or more backends were observed can a request be said to have reached none of them.
  if (legRows.length >= 2) {
    const unreached = num(legRows[0]?.unreached);
    metrics.push(metric('unreached', null, unreached, 'count'), metric('unreached_rate', null, rate(unreached, num(client?.sent)), 'ratio'));
  }
  const pairs = await clock.time(stepName(S.answerPairs.file), () => store.query(S.answerPairs.sql, { ...params, reference }));
  const noise = noiseRun === undefined ? null : await loadNoise(store, noiseRun);
  const fields = await clock.time('compare answers field by field', async () => judgedFields(pairs, noise, thresholds, metrics));
  if (baseline !== undefined) metrics.push(...(await latencyImpact(store, baseline, metrics)));
  for (const condition of calibration.conditions ?? []) metrics.push(...(await conditionLatency(store, condition)));
  judgeWithinHarnessLag(metrics, run.harnessLag);
  applyThresholds(metrics, thresholds);
  const headerRows = await clock.time(stepName(S.headerDifferences.file), () => store.query(S.headerDifferences.sql, params));
  const unanswered = await clock.time('unanswered requests', () => unansweredReasons(store, 'http_sends', run.runId));
  const findings = judge(run, metrics, { expected, backends, reference, thresholds, noiseGiven: noise !== null, fields, headerRows, client, unanswered });
  const analysis: Analysis = {
    run,
    captureName: await captureNameOf(store, run.captureId),
    protocol: 'http',
    reference,
    backends,
    routes: [],
    metrics,
    findings,
    verdict: verdictOf(metrics, findings),
    thresholds,
    mismatchSamples: [],
    responseFields: fields,
    relaySelfReport: null,
    baseline: baseline ?? null,
    partial: analysedPartially(run, options.partial),
    steps: clock.timings,
  };
  await clock.time('store the verdict', async () => {
    await storeAnalysis(store, analysis);
    await storeFields(store, run.runId, fields);
  });
  return analysis;
}

interface JudgeContext {
  expected: string[];
  backends: string[];
  reference: string;
  thresholds: ThresholdConfig;
  noiseGiven: boolean;
  fields: ResponseFieldParity[];
  headerRows: Row[];
  client: Row | undefined;
  unanswered: UnansweredReason[];
}

function judge(run: RunRecord, metrics: Metric[], c: JudgeContext): Finding[] {
  // A request the proxy left unanswered is the proxy's finding, never "could not send": it was sent.
  const stats: StoredReplayStats | null = run.stats === null ? null : { ...run.stats, sendErrors: 0 };
  const findings = [
    ...runStateFindings(run, stats, false),
    ...coverageFindings(metrics, { expected: c.expected, observed: c.backends }, stats, c.thresholds.defaults.drop_rate.critical, 'requests'),
    ...unansweredFindings(metrics, 'requests', c.unanswered),
    ...thresholdFindings(metrics, [], null, c.reference),
    ...explainFindings(c.client, c.reference),
    ...noiseFindings(c.fields, c.noiseGiven, c.reference),
    ...replayFidelityFindings(metrics, c.thresholds),
  ];
  for (const finding of findings) {
    if (finding.kind !== 'threshold' || finding.backend === null) continue;
    if (finding.metric === 'request_mismatch_rate') finding.message += headerDetails(c.headerRows, finding.backend);
    if (finding.metric === 'response_mismatch_rate') finding.message += fieldDetails(c.fields, finding.backend, c.reference);
  }
  return findings;
}

function clientMetrics(row: Row | undefined): Metric[] {
  const sent = num(row?.sent);
  return [
    metric('sent', null, sent, 'count'),
    metric('answered', null, num(row?.answered), 'count'),
    metric('server_errors', null, num(row?.server_errors), 'count'),
    metric('client_latency_p50_ms', null, numOrNull(row?.rtt_p50), 'ms'),
    metric('client_latency_p95_ms', null, numOrNull(row?.rtt_p95), 'ms'),
    metric('client_latency_p99_ms', null, numOrNull(row?.rtt_p99), 'ms'),
    metric('client_latency_max_ms', null, numOrNull(row?.rtt_max), 'ms'),
    metric('latency_noise_p95_ms', null, halfGap(numOrNull(row?.rtt_p95_first_half), numOrNull(row?.rtt_p95_second_half)), 'ms'),
    metric('unexplained_answers', null, num(row?.unexplained), 'count'),
  ];
}

function backendMetrics(row: Row): Metric[] {
  const backend = str(row.backend);
  const [sent, delivered] = [num(row.sent), num(row.delivered)];
  return [
    metric('sent', backend, sent, 'count'),
    metric('delivered', backend, delivered, 'count'),
    metric('lost', backend, sent - delivered, 'count'),
    metric('lost_apart', backend, num(row.lost_apart), 'count'),
    // What no backend received is the proxy's (unreached_rate): a backend's drop rate is what another received.
    metric('drop_rate', backend, rate(num(row.lost_apart), sent), 'ratio'),
    metric('duplicated', backend, num(row.duplicated), 'count'),
    metric('body_mismatches', backend, num(row.body_mismatches), 'count'),
    metric('empty_bodies', backend, num(row.empty_bodies), 'count'),
    metric('body_mismatch_rate', backend, rate(num(row.body_mismatches), delivered), 'ratio'),
    metric('request_mismatches', backend, num(row.request_mismatches), 'count'),
    metric('request_mismatch_rate', backend, rate(num(row.request_mismatches), delivered), 'ratio'),
    metric('resets', backend, num(row.resets), 'count'),
    metric('answer_latency_p50_ms', backend, numOrNull(row.answer_p50), 'ms'),
    metric('answer_latency_p95_ms', backend, numOrNull(row.answer_p95), 'ms'),
    metric('answer_latency_p99_ms', backend, numOrNull(row.answer_p99), 'ms'),
  ];
}

/** Status and field-by-field parity of each backend's answers against the reference's; adds their metrics. */
function judgedFields(pairs: Row[], noise: ReadonlyMap<string, number> | null, thresholds: ThresholdConfig, metrics: Metric[]): ResponseFieldParity[] {
  const status = new Map<string, { compared: number; differing: number }>();
  const sameStatus = pairs.filter((pair) => {
    const backend = str(pair.backend);
    const tally = status.get(backend) ?? { compared: 0, differing: 0 };
    status.set(backend, tally);
    tally.compared++;
    const same = pair.other_status !== null && num(pair.other_status) === num(pair.ref_status);
    if (!same) tally.differing++;
    return same;
  });
  const compared = compareAnswers(sameStatus.map((pair) => ({ backend: str(pair.backend), reference: pair.ref_body as Uint8Array | null, other: pair.other_body as Uint8Array | null })));
  const fields = judgeFields(compared, noise, thresholds.ignoreAckFields);
  const differing = countDifferingPairs(compared, fields);
  for (const [backend, tally] of status) {
    const comparedPairs = sameStatus.filter((pair) => str(pair.backend) === backend).length;
    metrics.push(
      metric('status_compared', backend, tally.compared, 'count'),
      metric('status_mismatches', backend, tally.differing, 'count'),
      metric('status_mismatch_rate', backend, rate(tally.differing, tally.compared), 'ratio'),
      metric('response_compared', backend, comparedPairs, 'count'),
      metric('response_mismatches', backend, differing.get(backend) ?? 0, 'count'),
      metric('response_mismatch_rate', backend, rate(differing.get(backend) ?? 0, comparedPairs), 'ratio'),
    );
  }
  return fields;
}

/** Each field's differing share between two copies of the same version, from an analysed A/A run. */
async function loadNoise(store: Store, runName: string): Promise<Map<string, number>> {
  const run = await getRun(store, runName);
  const rows = await store.query('SELECT field, sum(differing) / sum(compared) AS rate FROM http_field_parity WHERE run_id = $run_id AND compared > 0 GROUP BY field', { run_id: run.runId });
  if (rows.length === 0) throw new ConfigError(`A/A run "${runName}" has no compared answers: analyse it first (parity analyse ${runName}), with its shadow answering`, { field: 'noise' });
  return new Map(rows.map((row) => [str(row.field), num(row.rate)]));
}

/**
 * What shadowing adds to the client's latency, against the baseline: a run through the same proxy with no shadow. The
 * p95 is known to within both runs' own drift (latency-noise.ts), and judged at both ends of it.
 */
async function latencyImpact(store: Store, baseline: string, metrics: readonly Metric[]): Promise<Metric[]> {
  const before = await loadBaseline(store, baseline);
  const impact: Metric[] = [];
  for (const q of ['p50', 'p95', 'p99'] as const) {
    const now = overallValue(metrics, `client_latency_${q}_ms`, null);
    const then = overallValue(before, `client_latency_${q}_ms`, null);
    if (then === null) throw new ConfigError(`baseline "${baseline}" has no client latency: the baseline of an HTTP run is an analysed HTTP run with no shadow`, { field: 'baseline' });
    impact.push(metric(`live_latency_impact_${q}_ms`, null, now === null ? null : now - then, 'ms'));
  }
  const baselineNoise = before.some((m) => m.metric === 'latency_noise_p95_ms') ? overallValue(before, 'latency_noise_p95_ms', null) : await storedRunNoise(store, baseline);
  const p95 = impact.find((m) => m.metric === 'live_latency_impact_p95_ms');
  if (p95 !== undefined && p95.value !== null) p95.uncertainty = comparisonUncertainty(overallValue(metrics, 'latency_noise_p95_ms', null), baselineNoise);
  return impact;
}

/** The drift of a baseline analysed before the gauge existed, measured from its sends (a report.json has none to read). */
async function storedRunNoise(store: Store, baseline: string): Promise<number | null> {
  if (baseline.endsWith('.json')) return null;
  const run = await getRun(store, baseline);
  const [row] = await store.query(S.clientMetrics.sql, { run_id: run.runId });
  return halfGap(numOrNull(row?.rtt_p95_first_half), numOrNull(row?.rtt_p95_second_half));
}

/**
 * The live latency a calibration run measured with the shadow in one condition (healthy, slow, failing), under the
 * backend name `shadow <condition>`: a proxy whose live path waits for its shadow shows it most when the shadow is slow.
 */
async function conditionLatency(store: Store, condition: { label: string; run: string }): Promise<Metric[]> {
  const run = await getRun(store, condition.run);
  const rows = await store.query(
    "SELECT metric, value, uncertainty FROM route_metrics WHERE run_id = $run_id AND backend IS NULL AND route_port IS NULL AND (metric LIKE 'live_latency_impact_%' OR metric LIKE 'client_latency_%')",
    { run_id: run.runId },
  );
  const backend = `shadow ${condition.label}`;
  return rows.flatMap((row) => {
    const name = str(row.metric);
    if (!isMetricName(name)) return [];
    const m = metric(name, backend, numOrNull(row.value), 'ms');
    if (row.uncertainty !== null) m.uncertainty = num(row.uncertainty);
    return [m];
  });
}

async function storeFields(store: Store, runId: number, fields: readonly ResponseFieldParity[]): Promise<void> {
  if (fields.length === 0) return;
  const appender = await store.createAppender('http_field_parity');
  for (const f of fields) {
    appender.appendInteger(runId);
    appender.appendVarchar(f.backend);
    appender.appendVarchar(f.field);
    appender.appendInteger(f.compared);
    appender.appendInteger(f.differing);
    if (f.noiseRate === null) appender.appendNull();
    else appender.appendDouble(f.noiseRate);
    appender.appendBoolean(f.counted);
    for (const example of [f.example?.reference, f.example?.other]) {
      if (example === undefined) appender.appendNull();
      else appender.appendVarchar(example.slice(0, 200));
    }
    appender.endRow();
  }
  appender.closeSync();
}
