import type { ReportJson } from '../../src/report/report-json.ts';

type Finding = ReportJson['findings'][number];

/**
 * Findings a database scenario expecting GO may carry on a machine too busy for its latencies: a latency known only to
 * within as much as its threshold (the machine moved it within the runs, or held the harness's own event loop as long)
 * is inconclusive; and where the machine is short of CPU, mirroring's own work (the pooler's second connection, the
 * mirror's server) slows the live path past the warning threshold, which the scenario then rightly says (seen under two
 * busy loops on the two cores: p95 52.7 ms with the mirror, 21.8 ms without, known to within 8.9 ms).
 */
export function isMachineBound(finding: Finding): boolean {
  return (finding.severity === 'inconclusive' && /latency/.test(finding.metric)) || (finding.severity === 'warning' && finding.metric.startsWith('live_latency_impact'));
}

/** The verdict a report whose findings are all machine-bound has: GO with none. */
export function machineBoundVerdict(findings: readonly Finding[]): ReportJson['verdict'] {
  if (findings.length === 0) return 'GO';
  return findings.some((f) => f.severity === 'inconclusive') ? 'INCONCLUSIVE' : 'GO_WITH_WARNINGS';
}
