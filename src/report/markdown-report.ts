import { formatMeasured, metricLabel, type Analysis } from '../analyse/analysis.ts';
import { markedText, replayLatenessCauses, responseFieldRows, summaryColumns, summaryRows, VERDICT_WORDS, verdictLine } from './summary-rows.ts';

const ICON: Record<Analysis['verdict'], string> = { GO: '✅', GO_WITH_WARNINGS: '⚠️', NO_GO: '❌', INCOMPLETE: '⛔', INCONCLUSIVE: '❔' };

/** Control characters other than newlines: never meant to be shown. */
// eslint-disable-next-line no-control-regex -- the control characters are exactly what is matched
const CONTROL = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f]/g;
/** Prose on one line, with no tag rendered. */
const inline = (text: string): string => text.replace(CONTROL, '').replace(/\r?\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Text made safe for a Markdown table cell: no pipe ends the cell, no newline ends the row, no tag is rendered. */
const cell = (text: string): string =>
  inline(text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|'));
/** A name in a code span: a backtick would end the span early, a newline the line. */
const code = (text: string): string => `\`${text.replace(CONTROL, '').replace(/`/g, "'").replace(/\r?\n/g, ' ')}\``;

/** report.md: a summary to paste into a change ticket or a CI step summary ($GITHUB_STEP_SUMMARY). */
export function renderMarkdownReport(analysis: Analysis): string {
  const lines = [
    ...(analysis.partial ? [`> **Partial analysis**: run ${code(analysis.run.name)} is ${analysis.run.status}, not completed.`, ''] : []),
    `## ${ICON[analysis.verdict]} ${VERDICT_WORDS[analysis.verdict]}: parity run ${code(analysis.run.name)}`,
    '',
    inline(verdictLine(analysis)),
    '',
    `Capture ${code(analysis.captureName ?? '-')}, protocol ${analysis.protocol}, relay ${inline(analysis.run.relay ?? '-')}, backends ${inline(analysis.backends.join(', '))} (reference: ${inline(analysis.reference)}).`,
    '',
  ];
  if (analysis.findings.length > 0) {
    lines.push('### Findings', '');
    for (const finding of analysis.findings) lines.push(`- **${finding.severity}**: ${inline(finding.message)}`);
    lines.push('');
  }
  lines.push('### Per route and backend', '', `| route | backend | ${summaryColumns(analysis).map((c) => c.title).join(' | ')} |`, `|---|---|${summaryColumns(analysis).map(() => '---:').join('|')}|`);
  for (const row of summaryRows(analysis)) lines.push(`| ${cell(row.route)} | ${cell(row.backend)} | ${row.cells.map((c) => cell(markedText(c))).join(' | ')} |`);
  lines.push('', '`!` warning, `X` critical, `?` inconclusive (the machine\'s own variation straddles the threshold).', '');
  const device = analysis.metrics.filter((m) => m.route === null && m.backend === null);
  if (device.length > 0) {
    lines.push(`### ${analysis.protocol === 'http' ? 'Clients' : 'Devices'} and replay`, '', '| metric | value |', '|---|---:|');
    for (const m of device) lines.push(`| ${cell(metricLabel(m.metric))} | ${cell(markedText({ text: formatMeasured(m), status: m.status }))} |`);
    lines.push('');
    const causes = replayLatenessCauses(analysis);
    if (causes !== undefined) lines.push(inline(causes), '');
  }
  if (analysis.playbook !== undefined) {
    const gateways = analysis.backends;
    lines.push('### Playbook steps', '', `| step | at | frames sent after it | should reach | ${gateways.map((g) => `${cell(g)} processed`).join(' | ')} | outcome |`, `|---|---:|---:|---|${gateways.map(() => '---:').join('|')}|---|`);
    for (const step of analysis.playbook) {
      lines.push(`| ${cell(step.label)} | ${(step.atMs / 1000).toFixed(1)} s | ${step.frames.toLocaleString('en-US')} | ${cell(step.expected.join(', ') || 'none')} | ${gateways.map((g) => (step.delivered[g] ?? 0).toLocaleString('en-US')).join(' | ')} | ${step.ok ? 'as expected' : '**not as expected**'} |`);
    }
    lines.push('');
  }
  const fields = responseFieldRows(analysis);
  if (fields.length > 0) {
    lines.push(`### Response fields that differ from ${inline(analysis.reference)}'s`, '', '| backend | field | differs in | A/A noise | judged | example |', '|---|---|---:|---:|---|---|');
    for (const f of fields) lines.push(`| ${cell(f.backend)} | ${code(f.field)} | ${f.differing} | ${f.noise} | ${f.verdict} | ${cell(f.example)} |`);
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}
