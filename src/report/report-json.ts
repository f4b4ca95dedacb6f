import type { Analysis, Finding, MismatchSample, Verdict } from '../analyse/analysis.ts';
import type { MetricStatus, ThresholdConfig } from '../analyse/thresholds.ts';
import type { RunTopology, StoredPlan } from '../store/run-metadata.ts';

/** Version of the report.json layout; bumped only when a field changes meaning or goes away. */
export const REPORT_SCHEMA_VERSION = 1;

/** report.json: documented in the README, stable. */
export interface ReportJson {
  schemaVersion: number;
  run: string;
  verdict: Verdict;
  /** The run did not complete and was analysed on request (--partial). */
  partial: boolean;
  generatedAt: string;
  tested: {
    capture: string | null;
    protocol: string;
    relay: string | null;
    plan: StoredPlan | null;
    topology: RunTopology;
    status: string;
    reference: string;
    backends: string[];
    routes: { port: number; customer: string; device: string }[];
  };
  thresholds: ThresholdConfig;
  /**
   * `uncertainty`, where a value has one, with what it is (`uncertaintySource`): `drift` (± the machine's own variation
   * within the runs compared), `harness_lag` (± the harness's own lateness), `harness_drops` (what the harness's own
   * sockets dropped, which only made the value look worse: the truth lies between it and it made better by this much),
   * `unsent_payloads` (packets that reached a backend with bytes no device sent, the same way), `unrecorded` (± the
   * datagrams a recording could not record; on a latency percentile, how far that many samples could move it, with
   * `bounds`: where it can lie, below and above, the range judged). An uncertainty or bound without end is written as
   * the largest double (JSON has no infinity).
   */
  metrics: { metric: string; route: number | null; backend: string | null; value: number | null; uncertainty?: number; uncertaintySource?: string; bounds?: [number, number]; unit: string; status: MetricStatus | null }[];
  findings: Finding[];
  mismatches: MismatchSample[];
  /** HTTP runs only: each response field compared between live and shadow, with its A/A noise and whether it counts. */
  responseFields?: NonNullable<Analysis['responseFields']>;
  /** WebSocket runs with a playbook only: each step and its outcome. */
  playbook?: NonNullable<Analysis['playbook']>;
  relaySelfReport: Analysis['relaySelfReport'];
  baseline: string | null;
}

/** JSON has no infinity: a value without end is written as the largest double of its sign. */
const finite = (value: number): number => (Number.isFinite(value) ? value : Math.sign(value) * Number.MAX_VALUE);

export function toReportJson(analysis: Analysis): ReportJson {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    run: analysis.run.name,
    verdict: analysis.verdict,
    partial: analysis.partial,
    generatedAt: new Date().toISOString(),
    tested: {
      capture: analysis.captureName,
      protocol: analysis.protocol,
      relay: analysis.run.relay,
      plan: analysis.run.plan,
      topology: analysis.run.topology,
      status: analysis.run.status,
      reference: analysis.reference,
      backends: analysis.backends,
      routes: analysis.routes,
    },
    thresholds: analysis.thresholds,
    metrics: analysis.metrics.map(({ metric, route, backend, value, uncertainty, uncertaintySource, bounds, unit, status }) => ({
      metric,
      route,
      backend,
      value,
      ...(uncertainty !== undefined && { uncertainty: finite(uncertainty) }),
      ...(uncertaintySource !== undefined && { uncertaintySource }),
      ...(bounds !== undefined && { bounds: [finite(bounds[0]), finite(bounds[1])] as [number, number] }),
      unit,
      status,
    })),
    findings: analysis.findings,
    mismatches: analysis.mismatchSamples,
    ...(analysis.responseFields !== undefined && { responseFields: analysis.responseFields }),
    ...(analysis.playbook !== undefined && { playbook: analysis.playbook }),
    relaySelfReport: analysis.relaySelfReport,
    baseline: analysis.baseline,
  };
}
