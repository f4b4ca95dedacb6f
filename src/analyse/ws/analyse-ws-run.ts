import { observedBackends } from '../../store/run-metadata.ts';
import type { RunRecord } from '../../store/runs.ts';
import { num, numOrNull, str, type Row, type Store } from '../../store/store.ts';
import { formatMetricValue, verdictOf, type Analysis, type Finding, type Metric, rateOf, runMetric } from '../analysis.ts';
import { captureNameOf, storeAnalysis } from '../analysis-store.ts';
import type { AnalyseOptions } from '../analyse-run.ts';
import { sqlStep, type AnalysisStep } from '../analysis-steps.ts';
import { controlPlaneFindings } from '../control-plane-findings.ts';
import { coverageFindings, runStateFindings, analysedPartially } from '../fail-closed.ts';
import { applyThresholds, replayFidelityFindings, thresholdFindings } from '../judge.ts';
import { replayMetrics } from '../replay-metrics.ts';
import { StepClock, stepName } from '../step-clock.ts';
import { frameReach, splitLoss, type ReachRow } from './frame-reach.ts';
import { judgePlaybook, type StepOutcome } from './playbook.ts';
import { defaultThresholds, reviveThresholds } from '../thresholds.ts';

const step = (file: string): AnalysisStep => sqlStep(import.meta.url, file);

/** The WebSocket family's SQL steps, in order. */
export const WS_ANALYSIS_STEPS = {
  gatewayLegs: step('01-gateway-legs.sql'),
  agentTargets: step('02-agent-targets.sql'),
  stepTable: step('03-step-table.sql'),
  frameReach: step('04-frame-reach.sql'),
  gatewayDiagnostics: step('06-gateway-diagnostics.sql'),
} as const;

const metric = runMetric;
const rate = rateOf;

/**
 * Analyses a run through a WebSocket relay agent: per gateway, the frames fed to the agent against the frames the
 * gateway processed (drop rate, duplicates, out-of-order frames), drift from the first gateway, the agent's ack
 * latency and largest queue per target (the fan-out spec's table as thresholds), and the agent's own counters checked
 * against what the gateways really processed.
 */
export async function analyseWsRun(store: Store, run: RunRecord, options: AnalyseOptions): Promise<Analysis> {
  const thresholds = options.thresholds ?? reviveThresholds(run.thresholds) ?? defaultThresholds();
  const expected = observedBackends(run.topology);
  const clock = new StepClock(options.progress);
  const params = { run_id: run.runId };
  await clock.time('clear earlier results', () => store.exec('DELETE FROM route_metrics WHERE run_id = $run_id', params));
  const legs = await clock.time(stepName(WS_ANALYSIS_STEPS.gatewayLegs.file), () => store.query(WS_ANALYSIS_STEPS.gatewayLegs.sql, params));
  const agent = await clock.time(stepName(WS_ANALYSIS_STEPS.agentTargets.file), () => store.query(WS_ANALYSIS_STEPS.agentTargets.sql, params));
  const diagnostics = await clock.time(stepName(WS_ANALYSIS_STEPS.gatewayDiagnostics.file), () => store.query(WS_ANALYSIS_STEPS.gatewayDiagnostics.sql, params));
  const backends = [...new Set([...expected, ...legs.map((row) => str(row.gateway))])];
  const reference = backends[0] ?? '(none)';
  const sent = run.stats?.sent ?? 0;
  const byGateway = new Map(legs.map((row) => [str(row.gateway), row]));
  const metrics: Metric[] = [metric('sent', null, sent, 'count'), ...replayMetrics(run.stats)];
  const playbook = await clock.time('playbook steps', () => judgeSteps(store, run, backends));
  // Without a playbook the whole run is one window, owed to every gateway; with one, its steps' windows as judged.
  const windows = playbook === undefined ? [{ stepNo: 0, expected: backends }] : playbook.outcomes.map((o, stepNo) => ({ stepNo, expected: o.expected }));
  const rows = playbook?.reach ?? (await clock.time(stepName(WS_ANALYSIS_STEPS.frameReach.file), () => wholeRunReach(store, run.runId)));
  const reach = splitLoss(rows, windows);
  // A share of the frames of the windows that send to two or more gateways: a window of one keeps its loss on it.
  if (reach.unreached !== null) {
    metrics.push(metric('unreached', null, reach.unreached, 'count'), metric('unreached_of', null, reach.judged, 'count'), metric('unreached_rate', null, rate(reach.unreached, reach.judged), 'ratio'));
  }
  for (const gateway of backends) {
    // With a playbook a gateway is owed only the frames of the steps that send to it; drift between gateways is by design.
    const owed = playbook === undefined ? { sent, delivered: undefined } : owedTo(playbook.outcomes, gateway);
    const leg = byGateway.get(gateway);
    metrics.push(...gatewayMetrics(gateway, { ...owed, lostApart: reach.lostApart.get(gateway) ?? 0 }, leg, agent.find((row) => str(row.gateway) === gateway), playbook === undefined ? num(byGateway.get(reference)?.delivered) : null));
  }
  applyThresholds(metrics, thresholds);
  const findings = [
    ...runStateFindings(run, run.stats, options.partial === true),
    ...coverageFindings(metrics, { expected, observed: [...byGateway.keys()] }, run.stats, thresholds.defaults.drop_rate.critical, 'frames'),
    ...thresholdFindings(metrics, [], null, reference),
    ...agentClaimFindings(agent, byGateway),
    ...gatewayDiagnosticsFindings(diagnostics, byGateway),
    ...(playbook?.findings ?? []),
    ...controlPlaneFindings(run.topology),
    ...replayFidelityFindings(metrics, thresholds),
  ];
  const analysis: Analysis = {
    run,
    captureName: await captureNameOf(store, run.captureId),
    protocol: 'ws',
    reference,
    backends,
    routes: [],
    metrics,
    findings,
    verdict: verdictOf(metrics, findings),
    thresholds,
    mismatchSamples: [],
    ...(playbook !== undefined && { playbook: playbook.outcomes }),
    relaySelfReport: null,
    baseline: null,
    partial: analysedPartially(run, options.partial),
    steps: clock.timings,
  };
  await clock.time('store the verdict', () => storeAnalysis(store, analysis));
  return analysis;
}

/** A playbook run's windows as the gateways saw them, or undefined for a run without one. */
async function judgeSteps(store: Store, run: RunRecord, gateways: readonly string[]): Promise<Awaited<ReturnType<typeof judgePlaybook>> | undefined> {
  const timeline = run.topology.timeline ?? [];
  if (timeline.length === 0) return undefined;
  const relay = run.topology.relay ?? { kind: 'builtin', address: '', debug: null };
  const initial = { mode: relay.mode === 'single' ? ('single' as const) : ('parallel' as const), primaryIndex: typeof relay.primaryIndex === 'number' ? relay.primaryIndex : 0, targetsEnabled: gateways.map(() => true), killSwitch: false };
  const S = WS_ANALYSIS_STEPS;
  return judgePlaybook(store, run.runId, { table: S.stepTable, reach: S.frameReach }, timeline, initial, gateways);
}

/** What a gateway was owed over a playbook: the frames of every step that sends to it, and how many of those it processed. */
function owedTo(outcomes: readonly StepOutcome[], gateway: string): { sent: number; delivered: number } {
  const mine = outcomes.filter((o) => o.expected.includes(gateway));
  return { sent: mine.reduce((sum, o) => sum + o.frames, 0), delivered: mine.reduce((sum, o) => sum + (o.delivered[gateway] ?? 0), 0) };
}

/** Who processed the frames the whole run fed the agent, as one window (ws_steps' step 0): a run without a playbook. */
async function wholeRunReach(store: Store, runId: number): Promise<ReachRow[]> {
  await store.exec(WS_ANALYSIS_STEPS.stepTable.sql);
  await store.exec('INSERT INTO ws_steps VALUES (0, 0, $to_ns)', { to_ns: 2n ** 62n });
  return frameReach(store, runId, WS_ANALYSIS_STEPS.frameReach);
}

function gatewayMetrics(gateway: string, owed: { sent: number; delivered: number | undefined; lostApart: number }, leg: Row | undefined, agent: Row | undefined, referenceDelivered: number | null): Metric[] {
  const sent = owed.sent;
  const delivered = owed.delivered ?? num(leg?.delivered);
  const duplicated = num(leg?.duplicated);
  const reordered = num(leg?.reordered);
  return [
    metric('sent', gateway, sent, 'count'),
    metric('delivered', gateway, delivered, 'count'),
    metric('lost', gateway, sent - delivered, 'count'),
    metric('lost_apart', gateway, owed.lostApart, 'count'),
    // What no gateway owed a frame processed is the agent's (unreached_rate): a gateway's drop rate is what another got.
    metric('drop_rate', gateway, rate(owed.lostApart, sent), 'ratio'),
    metric('duplicated', gateway, duplicated, 'count'),
    metric('duplicate_rate', gateway, rate(duplicated, delivered), 'ratio'),
    metric('reordered', gateway, reordered, 'count'),
    metric('reorder_rate', gateway, rate(reordered, delivered), 'ratio'),
    metric('drift', gateway, referenceDelivered !== null && referenceDelivered > 0 ? Math.abs(delivered - referenceDelivered) / referenceDelivered : null, 'ratio'),
    metric('ack_latency_p50_ms', gateway, numOrNull(agent?.ack_p50_ms), 'ms'),
    metric('ack_latency_p95_ms', gateway, numOrNull(agent?.ack_p95_ms), 'ms'),
    metric('relay_queue', gateway, agent === undefined ? null : num(agent.max_queue), 'count'),
    metric('agent_claimed_sent', gateway, agent === undefined ? null : num(agent.sent), 'count'),
    metric('agent_dropped', gateway, agent === undefined ? null : num(agent.dropped), 'count'),
    metric('agent_failed', gateway, agent === undefined ? null : num(agent.failed), 'count'),
  ];
}

/**
 * A real gateway's own diagnostics against what the tap in front of it delivered: a gateway that says it processed
 * fewer frames than its connection took lost them inside itself (critical: the tap cannot see past the socket, the
 * gateway can); one that counts duplicates or out-of-order frames the tap did not see made them itself (a warning,
 * the rates judge them). A gateway that could not be asked is a blind spot, said so, never read as a loss.
 */
function gatewayDiagnosticsFindings(diagnostics: readonly Row[], legs: ReadonlyMap<string, Row>): Finding[] {
  const findings: Finding[] = [];
  for (const row of diagnostics) {
    const gateway = str(row.gateway);
    const unanswered = num(row.unanswered);
    if (unanswered > 0) {
      findings.push({ severity: 'warning', kind: 'observer', metric: 'backend_legs', route: null, backend: gateway, value: unanswered, message: `${gateway}: its diagnostics did not answer for ${formatMetricValue(unanswered, 'count')} sessions (${str(row.first_error)}): what it processed of them is known only up to its socket` });
    }
    const delivered = num(legs.get(gateway)?.delivered) + num(legs.get(gateway)?.duplicated);
    const processed = num(row.frames_in);
    if (processed < delivered && unanswered === 0) {
      findings.push({ severity: 'critical', kind: 'backend', metric: 'lost', route: null, backend: gateway, value: delivered - processed, message: `${gateway}: its own diagnostics say it processed ${formatMetricValue(processed, 'count')} frames of the ${formatMetricValue(delivered, 'count')} its connection took (/api/dev/diagnostics/parity): ${formatMetricValue(delivered - processed, 'count')} lost inside the gateway` });
    }
    for (const [column, seen] of [['duplicates', 'duplicated'], ['out_of_order', 'reordered']] as const) {
      const said = num(row[column]);
      const tapped = num(legs.get(gateway)?.[seen]);
      if (said > tapped) findings.push({ severity: 'warning', kind: 'backend', metric: seen, route: null, backend: gateway, value: said, message: `${gateway}: its own diagnostics count ${formatMetricValue(said, 'count')} ${column === 'duplicates' ? 'duplicates' : 'out-of-order frames'}, ${formatMetricValue(tapped, 'count')} of them on the wire: the rest it made itself` });
    }
  }
  return findings;
}

/**
 * The agent's /debug/parity against what each gateway really processed: an agent that claims fewer frames sent than a
 * gateway processed miscounts (critical: its parity endpoint cannot be trusted for a cutover); one that claims more
 * lost them after they left it (a warning here, the drop rate judges the loss).
 */
function agentClaimFindings(agent: readonly Row[], legs: ReadonlyMap<string, Row>): Finding[] {
  const findings: Finding[] = [];
  for (const row of agent) {
    const gateway = str(row.gateway);
    const claimed = num(row.sent);
    const processed = num(legs.get(gateway)?.delivered) + num(legs.get(gateway)?.duplicated);
    if (claimed === processed) continue;
    const severity = claimed < processed ? 'critical' : 'warning';
    const why = claimed < processed ? 'the agent undercounts: its /debug/parity cannot be taken for what the gateway got' : `${formatMetricValue(claimed - processed, 'count')} left the agent and were not processed by ${gateway}`;
    findings.push({ severity, kind: 'relay_self_report', metric: 'agent_claimed_sent', route: null, backend: gateway, value: claimed, message: `${gateway}: the agent says it sent ${formatMetricValue(claimed, 'count')} frames, ${gateway} processed ${formatMetricValue(processed, 'count')}: ${why}` });
  }
  return findings;
}
