import { formatMetricValue, metricLabel, type Analysis } from '../analyse/analysis.ts';
import { markedText, SUMMARY_COLUMNS, summaryRows, VERDICT_WORDS, verdictLine } from './summary-rows.ts';

const ICON: Record<Analysis['verdict'], string> = { GO: '✅', GO_WITH_WARNINGS: '⚠️', NO_GO: '❌', INCOMPLETE: '⛔' };

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** report.md: a summary to paste into a change ticket or a CI step summary ($GITHUB_STEP_SUMMARY). */
export function renderMarkdownReport(analysis: Analysis): string {
  const lines = [
    ...(analysis.partial ? [`> **Partial analysis**: run \`${cell(analysis.run.name)}\` is ${analysis.run.status}, not completed.`, ''] : []),
    `## ${ICON[analysis.verdict]} ${VERDICT_WORDS[analysis.verdict]}: parity run \`${analysis.run.name}\``,
    '',
    verdictLine(analysis),
    '',
    `Capture \`${analysis.captureName ?? '-'}\`, protocol ${analysis.protocol}, relay ${analysis.run.relay ?? '-'}, backends ${analysis.backends.join(', ')} (reference: ${analysis.reference}).`,
    '',
  ];
  if (analysis.findings.length > 0) {
    lines.push('### Findings', '');
    for (const finding of analysis.findings) lines.push(`- **${finding.severity}**: ${finding.message}`);
    lines.push('');
  }
  lines.push('### Per route and backend', '', `| route | backend | ${SUMMARY_COLUMNS.map((c) => c.title).join(' | ')} |`, `|---|---|${SUMMARY_COLUMNS.map(() => '---:').join('|')}|`);
  for (const row of summaryRows(analysis)) lines.push(`| ${cell(row.route)} | ${cell(row.backend)} | ${row.cells.map((c) => cell(markedText(c))).join(' | ')} |`);
  lines.push('', '`!` warning, `X` critical.', '');
  const device = analysis.metrics.filter((m) => m.route === null && m.backend === null);
  if (device.length > 0) {
    lines.push('### Devices and replay', '', '| metric | value |', '|---|---:|');
    for (const m of device) lines.push(`| ${cell(metricLabel(m.metric))} | ${formatMetricValue(m.value, m.unit)} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
