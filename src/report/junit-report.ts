import { formatMeasured, formatMetricValue, judgedMetrics, metricLabel, type Analysis, type Metric } from '../analyse/analysis.ts';
import { escapeXml } from './svg-chart.ts';

/**
 * junit.xml: one test case per judged metric (route-level, and all-routes only where no route judged it, as the
 * verdict counts them: each finding once), one per finding that is not a threshold; failures for critical and
 * inconclusive ones (an inconclusive comparison is no pass); warnings pass, with the warning in system-out, so CI
 * shows them without failing on them.
 */
/** What an inconclusive value's range is made of, by its source (analysis.ts `Metric.uncertaintySource`). */
const UNCERTAIN_BECAUSE: Record<NonNullable<Metric['uncertaintySource']>, string> = {
  drift: "the machine's own variation",
  harness_lag: "the harness's own lateness",
  harness_drops: "what the harness's own sockets dropped",
  unsent_payloads: 'packets that reached a backend with bytes no device sent',
  unrecorded: 'datagrams the recording could not record',
};

export function renderJunitReport(analysis: Analysis): string {
  const cases: string[] = [];
  let failures = 0;
  for (const metric of judgedMetrics(analysis.metrics)) {
    if (metric.status === null) continue;
    const where = `${metric.route === null ? 'all routes' : `route ${metric.route}`}${metric.backend === null ? '' : ` ${metric.backend}`}`;
    const name = `${metricLabel(metric.metric)} (${where})`;
    const value = formatMetricValue(metric.value, metric.unit);
    let body = '';
    if (metric.status === 'critical') {
      failures++;
      body = `<failure message="${escapeXml(`${name}: ${value} is critical`)}" type="critical">${escapeXml(`${value}; critical from ${metric.threshold?.critical}`)}</failure>`;
    } else if (metric.status === 'inconclusive') {
      failures++;
      const measured = formatMeasured(metric);
      body = `<failure message="${escapeXml(`${name}: ${measured} is inconclusive`)}" type="inconclusive">${escapeXml(`${measured}: ${UNCERTAIN_BECAUSE[metric.uncertaintySource ?? 'drift']} straddles the threshold`)}</failure>`;
    } else if (metric.status === 'warning') {
      body = `<system-out>${escapeXml(`WARNING ${name}: ${value}; warning from ${metric.threshold?.warning}`)}</system-out>`;
    }
    cases.push(`<testcase classname="parity.${escapeXml(analysis.run.name)}.${escapeXml(metric.metric)}" name="${escapeXml(name)}">${body}</testcase>`);
  }
  for (const finding of analysis.findings.filter((f) => f.kind !== 'threshold')) {
    const failed = finding.severity !== 'warning';
    if (failed) failures++;
    const body = failed ? `<failure message="${escapeXml(finding.message)}" type="${finding.kind}"/>` : `<system-out>${escapeXml(`WARNING ${finding.message}`)}</system-out>`;
    cases.push(`<testcase classname="parity.${escapeXml(analysis.run.name)}.${finding.kind}" name="${escapeXml(finding.message)}">${body}</testcase>`);
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="relay-parity" tests="${cases.length}" failures="${failures}">
<testsuite name="parity ${escapeXml(analysis.run.name)}" tests="${cases.length}" failures="${failures}" errors="0">
<properties><property name="verdict" value="${analysis.verdict}"/></properties>
${cases.join('\n')}
</testsuite>
</testsuites>
`;
}
