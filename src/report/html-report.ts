import { formatMeasured, formatMetricValue, metricLabel, type Analysis, type MetricUnit, type MismatchSample } from '../analyse/analysis.ts';
import { describePace } from '../replay/replay-plan.ts';
import type { ChartData } from './report-data.ts';
import { replayLatenessCauses, responseFieldRows, summaryColumns, summaryRows, VERDICT_WORDS, verdictLine } from './summary-rows.ts';
import { describeBackendSettings } from './backend-settings.ts';
import { barChart, escapeXml, lineChart } from './svg-chart.ts';

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
.verdict{padding:20px 24px;border-radius:8px;color:#fff;font-size:28px;font-weight:700}
.verdict small{display:block;font-size:14px;font-weight:400;opacity:.9}
.GO{background:#1e8e3e}.GO_WITH_WARNINGS{background:#e37400}.NO_GO{background:#c5221f}.INCOMPLETE{background:#5f6b7a}.INCONCLUSIVE{background:#7b3fa0}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 12px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:5px 6px;border-bottom:1px solid #e3e6ea;text-align:right;white-space:nowrap}
th{white-space:normal;vertical-align:bottom}td:first-child{white-space:normal}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left}
td.healthy{color:#1e8e3e}td.warning{background:#fff4e0;color:#8a4b00;font-weight:600}td.critical{background:#fde8e7;color:#a50e0e;font-weight:700}td.inconclusive{background:#f3e8fd;color:#5b2a7a;font-weight:600}
dl{display:grid;grid-template-columns:180px 1fr;gap:4px 12px;margin:0}dt{color:#5f6b7a}dd{margin:0}
ul.findings li.critical{color:#a50e0e}ul.findings li.warning{color:#8a4b00}ul.findings li.inconclusive{color:#5b2a7a}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}.chart{width:100%;height:auto;background:#fff}
.chart-title{font-weight:600;font-size:14px}.tick,.legend{font-size:11px;fill:#5f6b7a}.label{font-size:12px;fill:#1d2433}
.grid{stroke:#eceff3}.axis{stroke:#8a94a3}.chart-empty{fill:#8a94a3}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.table-wrap{max-width:100%;overflow-x:auto}
td.ack{text-align:left;white-space:normal;overflow-wrap:anywhere;width:38%}td.ack span{display:inline-block;margin-right:6px}
dd{overflow-wrap:anywhere}
.diff{background:#fde8e7;color:#a50e0e;font-weight:700}
`;

function table(head: string[], rows: string[][]): string {
  return `<div class="table-wrap"><table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table></div>`;
}

function tested(analysis: Analysis): string {
  const { plan, topology } = analysis.run;
  const backends = topology.backends.map((b) => `${b.role} ${b.ip}${b.faults === undefined ? '' : ` (${describeBackendSettings(b.faults)})`}`);
  const units = new Map<string, MetricUnit>(analysis.metrics.map((m) => [m.metric, m.unit]));
  const bound = (metric: string, value: number): string => {
    const unit = units.get(metric);
    return unit === undefined ? String(value) : formatMetricValue(value, unit);
  };
  const thresholds = Object.entries(analysis.thresholds.defaults).map(([m, t]) => `${metricLabel(m)}: warning ${bound(m, t.warning)}, critical ${bound(m, t.critical)}`);
  const items: [string, string][] = [
    ['run', `${analysis.run.name} (${analysis.run.status}, started ${analysis.run.startedAt})`],
    ['capture', analysis.captureName ?? '-'],
    ['protocol', analysis.protocol],
    ['relay under test', analysis.run.relay ?? '-'],
    ['rate plan', plan === null ? '-' : `${describePace(plan.pace)}${plan.loops > 1 ? `, ${plan.loops} loops` : ''}${plan.sample < 1 ? `, ${plan.sample * 100}% of devices` : ''}${plan.senderCpu === undefined ? '' : `, the sending thread alone on CPU ${plan.senderCpu}`}`],
    ['backends', backends.length > 0 ? backends.join('; ') : analysis.backends.join(', ')],
    ['reference backend', analysis.reference],
    ['routes', analysis.routes.map((r) => `${r.port}${r.customer === '' ? '' : ` ${r.customer}`}${r.device === '' ? '' : `/${r.device}`}`).join(', ')],
    ['thresholds', thresholds.join('; ')],
    ['baseline', analysis.baseline ?? 'none'],
  ];
  return `<dl>${items.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${escapeXml(v)}</dd>`).join('')}</dl>`;
}

function mismatchTable(samples: readonly MismatchSample[], reference: string): string {
  if (samples.length === 0) return '<p>No ACK mismatches.</p>';
  const rows = samples.map((s) => {
    const fields = [...new Set([...Object.keys(s.referenceFields), ...Object.keys(s.otherFields)])];
    const decoded = (values: Record<string, unknown>): string =>
      fields.map((f) => `<span class="${s.differingFields.includes(f) ? 'diff' : ''}">${escapeXml(f)}=${escapeXml(String(values[f] ?? '-'))}</span>`).join(' ');
    return [
      `<td>${s.route}</td>`,
      `<td>${escapeXml(s.device)}</td>`,
      `<td class="ack"><code>${escapeXml(s.referenceHex)}</code><br>${decoded(s.referenceFields)}</td>`,
      `<td class="ack"><code>${escapeXml(s.otherHex)}</code><br>${decoded(s.otherFields)}</td>`,
      `<td class="critical">${escapeXml(s.differingFields.join(', '))}</td>`,
    ];
  });
  const other = samples[0]?.backend ?? 'other';
  return table(['route', 'device', `${reference} ACK`, `${other} ACK`, 'differs'], rows);
}

/** WebSocket runs with a playbook: each step, who should have got the frames sent after it, and who did. */
function playbookSection(analysis: Analysis): string {
  if (analysis.playbook === undefined) return '';
  const gateways = analysis.backends;
  const rows = analysis.playbook.map((step) => [
    `<td>${escapeXml(step.label)}</td>`,
    `<td>${(step.atMs / 1000).toFixed(1)} s</td>`,
    `<td>${step.frames.toLocaleString('en-US')}</td>`,
    `<td>${escapeXml(step.expected.join(', ') || 'none')}</td>`,
    ...gateways.map((g) => `<td>${(step.delivered[g] ?? 0).toLocaleString('en-US')}</td>`),
    `<td class="${step.ok ? 'healthy' : 'critical'}">${step.ok ? 'as expected' : 'not as expected'}</td>`,
  ]);
  return `<section><h2>Playbook steps</h2>${table(['step', 'at', 'frames sent after it', 'should reach', ...gateways.map((g) => `${g} processed`), 'outcome'], rows)}</section>`;
}

/** HTTP runs: the response fields that differed, judged against their A/A noise. */
function fieldsSection(analysis: Analysis): string {
  const rows = responseFieldRows(analysis);
  if (analysis.responseFields === undefined) return '';
  const body = rows.length === 0
    ? `<p>Every compared answer is field for field ${escapeXml(analysis.reference)}'s.</p>`
    : table(['backend', 'field', 'differs in', 'A/A noise', 'judged', 'example'], rows.map((f) => [f.backend, f.field, f.differing, f.noise, f.verdict, f.example].map((text, i) => `<td class="${i === 4 && f.verdict === 'differs' ? 'critical' : ''}">${escapeXml(text)}</td>`)));
  return `<section><h2>Response fields</h2>${body}</section>`;
}

/** Why the replay's sends were late, under the table that gives the lateness, where the sending thread counted it. */
function lateNote(analysis: Analysis): string {
  const causes = replayLatenessCauses(analysis);
  return causes === undefined ? '' : `<p class="late-sends">${escapeXml(causes)}</p>`;
}

/** report.html: one self-contained file (no script, no network) for the sign-off meeting. */
export function renderHtmlReport(analysis: Analysis, charts: ChartData, files: { relayLog?: string } = {}): string {
  const summary = table(
    ['route', 'backend', ...summaryColumns(analysis).map((c) => c.title)],
    summaryRows(analysis).map((row) => [
      `<td>${escapeXml(row.route)}</td>`,
      `<td>${escapeXml(row.backend)}</td>`,
      ...row.cells.map((cell) => `<td class="${cell.status ?? ''}">${escapeXml(cell.text)}</td>`),
    ]),
  );
  const findings = analysis.findings.length === 0
    ? '<p>No findings: every metric is within its healthy range.</p>'
    : `<ul class="findings">${analysis.findings.map((f) => `<li class="${f.severity}"><strong>${f.severity.toUpperCase()}</strong> ${escapeXml(f.message)}</li>`).join('')}</ul>`;
  const device = analysis.metrics.filter((m) => m.route === null && m.backend === null && m.metric !== 'relay_queue');
  const deviceTable = table(['metric', 'value'], device.map((m) => [`<td>${escapeXml(metricLabel(m.metric))}</td>`, `<td class="${m.status ?? ''}">${escapeXml(formatMeasured(m))}</td>`]));
  const routes = [...new Set(charts.deliveryPerRoute.map((d) => d.route))];
  const chartsHtml = [
    analysis.protocol === 'http'
      ? lineChart({ id: 'chart-ack-latency-cdf', title: 'Answer time CDF per backend, and the client\'s latency', xLabel: 'ms (request in to answer out at each backend; request sent to answer in at the client)', yLabel: 'percentile', series: charts.ackLatencyCdf, step: true })
      : lineChart({ id: 'chart-ack-latency-cdf', title: 'ACK latency CDF per backend', xLabel: 'ACK latency (ms, request in to ACK out at the backend)', yLabel: 'percentile', series: charts.ackLatencyCdf, step: true }),
    barChart({
      id: 'chart-delivery',
      title: 'Delivery per route',
      yLabel: 'packets',
      groups: routes.map((route) => ({
        label: route,
        bars: charts.deliveryPerRoute.filter((d) => d.route === route).flatMap((d) => [{ name: `${d.backend} delivered`, value: d.delivered }, { name: `${d.backend} lost`, value: d.lost }]),
      })),
    }),
    lineChart({ id: 'chart-drift', title: `Drift over time (packets per ${charts.windowS} s window)`, xLabel: 'seconds into the run', yLabel: 'packets', series: charts.driftOverTime, xDomain: [0, charts.spanS] }),
    lineChart({ id: 'chart-lateness', title: `Replay lateness per ${charts.windowS} s window`, xLabel: 'seconds into the run', yLabel: `lateness (${charts.latenessUnit})`, series: charts.latenessOverTime, xDomain: [0, charts.spanS] }),
  ].join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeXml(`Parity report: ${analysis.run.name} - ${VERDICT_WORDS[analysis.verdict]}`)}</title><style>${STYLE}</style></head>
<body><main>
<div class="verdict ${analysis.verdict}" id="verdict" data-verdict="${analysis.verdict}">${escapeXml(VERDICT_WORDS[analysis.verdict])}<small>${escapeXml(verdictLine(analysis))}</small></div>
<section><h2>What was tested</h2>${tested(analysis)}${files.relayLog === undefined ? '' : `<p>The relay's own output during the run: <a href="${escapeXml(files.relayLog)}">${escapeXml(files.relayLog)}</a></p>`}</section>
<section><h2>Findings</h2>${findings}</section>
<section><h2>Per route and backend</h2>${summary}</section>
<section><h2>${analysis.protocol === 'http' ? 'Clients' : 'Devices'} and replay</h2>${deviceTable}${lateNote(analysis)}</section>${fieldsSection(analysis)}${playbookSection(analysis)}
<section><h2>Charts</h2><div class="charts">${chartsHtml}</div></section>
<section><h2>First ACK mismatches</h2>${mismatchTable(analysis.mismatchSamples, analysis.reference)}</section>
<footer><small>relay-parity, generated ${escapeXml(new Date().toISOString())}</small></footer>
</main></body></html>
`;
}
