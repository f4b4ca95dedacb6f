import Table from 'cli-table3';
import { formatMetricValue, type Analysis } from '../analyse/analysis.ts';
import { markedText, replayLatenessCauses, senderLine, summaryColumns, summaryRows, verdictLine } from './summary-rows.ts';

const COLOURS = { healthy: '\u001b[32m', warning: '\u001b[33m', critical: '\u001b[31m', inconclusive: '\u001b[35m', reset: '\u001b[0m' } as const;
const SEVERITY_WORDS = { critical: 'CRITICAL', warning: 'WARNING ', inconclusive: 'INCONCLUSIVE' } as const;

/** The terminal report: a table per route and backend with each metric's status, the findings, the verdict line. */
export function renderTerminalReport(analysis: Analysis, options: { colour: boolean }): string {
  const paint = (text: string, status: string | null): string =>
    options.colour && status !== null && status in COLOURS ? `${COLOURS[status as keyof typeof COLOURS]}${text}${COLOURS.reset}` : text;
  const table = new Table({ head: ['route', 'backend', ...summaryColumns(analysis).map((c) => c.title)], style: { head: [], border: [] } });
  for (const row of summaryRows(analysis)) {
    table.push([row.route, row.backend, ...row.cells.map((cell) => paint(options.colour ? cell.text : markedText(cell), cell.status))]);
  }
  const lines = analysis.partial ? [paint(`PARTIAL ANALYSIS: run ${analysis.run.name} is ${analysis.run.status}, not completed`, 'warning'), table.toString()] : [table.toString()];
  const device = analysis.metrics.filter((m) => m.route === null && m.backend === null);
  const pick = (name: string): string => {
    const metric = device.find((m) => m.metric === name);
    return metric === undefined ? '-' : formatMetricValue(metric.value, metric.unit);
  };
  lines.push(senderLine(analysis));
  if (device.some((m) => m.metric === 'replay_lateness_p99_us')) {
    lines.push(`replay: lateness p50 ${pick('replay_lateness_p50_us')}, p99 ${pick('replay_lateness_p99_us')}, max ${pick('replay_lateness_max_us')}; achieved ${pick('replay_achieved_rate_pps')}${pick('replay_asked_rate_pps') === '-' ? '' : ` of ${pick('replay_asked_rate_pps')} asked`}`);
    const causes = replayLatenessCauses(analysis);
    if (causes !== undefined) lines.push(causes);
  }
  for (const step of analysis.playbook ?? []) {
    const got = analysis.backends.map((g) => `${g} ${(step.delivered[g] ?? 0).toLocaleString('en-US')}`).join(', ');
    lines.push(paint(`step "${step.label}" at ${(step.atMs / 1000).toFixed(1)} s: ${step.frames.toLocaleString('en-US')} frames for ${step.expected.join(', ') || 'no gateway'}; processed: ${got}`, step.ok ? 'healthy' : 'critical'));
  }
  for (const finding of analysis.findings) lines.push(paint(`${SEVERITY_WORDS[finding.severity]} ${finding.message}`, finding.severity));
  const verdictStatus = analysis.verdict === 'GO' ? 'healthy' : analysis.verdict === 'GO_WITH_WARNINGS' ? 'warning' : analysis.verdict === 'INCONCLUSIVE' ? 'inconclusive' : 'critical';
  lines.push(paint(verdictLine(analysis), verdictStatus));
  return `${lines.join('\n')}\n`;
}
