import { formatMeasured, formatMetricValue, type Analysis, type Metric } from '../analyse/analysis.ts';
import { latenessCauses } from '../replay/replay-figures.ts';

/** The columns of the per-route, per-backend summary every report shows (terminal, Markdown, HTML): UDP runs. */
export const SUMMARY_COLUMNS = [
  { metric: 'sent', title: 'sent' },
  { metric: 'delivered', title: 'delivered' },
  { metric: 'drop_rate', title: 'drop rate' },
  { metric: 'duplicated', title: 'dup' },
  { metric: 'reordered', title: 'reord' },
  { metric: 'ack_latency_p50_ms', title: 'ACK p50' },
  { metric: 'ack_latency_p95_ms', title: 'ACK p95' },
  { metric: 'naks', title: 'NAKs' },
  { metric: 'drift', title: 'drift' },
  { metric: 'ack_mismatch_rate', title: 'ACK mismatch' },
] as const;

/** The same for a run through a shadowing HTTP proxy: what arrived, whether intact, and how the answers compare. */
export const HTTP_SUMMARY_COLUMNS = [
  { metric: 'sent', title: 'sent' },
  { metric: 'delivered', title: 'delivered' },
  { metric: 'drop_rate', title: 'drop rate' },
  { metric: 'duplicated', title: 'dup' },
  { metric: 'body_mismatch_rate', title: 'body altered' },
  { metric: 'request_mismatch_rate', title: 'request altered' },
  { metric: 'answer_latency_p95_ms', title: 'answer p95' },
  { metric: 'resets', title: 'resets' },
  { metric: 'status_mismatch_rate', title: 'status differs' },
  { metric: 'response_mismatch_rate', title: 'response differs' },
] as const;

/** The same for a database behind a mirroring pooler: what each database got, how fast it answered, how its results compare. */
export const PG_SUMMARY_COLUMNS = [
  { metric: 'sent', title: 'owed' },
  { metric: 'delivered', title: 'received' },
  { metric: 'drop_rate', title: 'lost' },
  { metric: 'reordered', title: 'out of order' },
  { metric: 'answer_latency_p50_ms', title: 'p50' },
  { metric: 'answer_latency_p95_ms', title: 'p95' },
  { metric: 'answer_latency_p99_ms', title: 'p99' },
  { metric: 'response_compared', title: 'compared' },
  { metric: 'response_mismatch_rate', title: 'results differ' },
] as const;

/** The summary columns for this analysis's protocol family. */
export function summaryColumns(analysis: Analysis): readonly { metric: string; title: string }[] {
  return analysis.protocol === 'http' ? HTTP_SUMMARY_COLUMNS : analysis.protocol === 'pg' ? PG_SUMMARY_COLUMNS : SUMMARY_COLUMNS;
}

/** Why the replay's sends were late, where its sending thread counted it and the p99 was 1 ms or more. */
export function replayLatenessCauses(analysis: Analysis): string | undefined {
  return analysis.run.stats === null ? undefined : latenessCauses(analysis.run.stats);
}

/** A line about the run as its sender saw it: the devices' ACKs (UDP), or the client's answers (HTTP). */
export function senderLine(analysis: Analysis): string {
  const overall = analysis.metrics.filter((m) => m.route === null && m.backend === null);
  const pick = (name: string): string => {
    const metric = overall.find((m) => m.metric === name);
    return metric === undefined ? '-' : formatMeasured(metric);
  };
  if (analysis.protocol === 'ws') {
    // What reached none of the gateways owed it is the agent's, in no gateway's row of the table.
    const unreached = overall.some((m) => m.metric === 'unreached') ? ` (${pick('unreached')} of them reached no gateway, ${pick('unreached_rate')})` : '';
    return `replayer: ${pick('sent')} frames fed to the relay agent${unreached}; each gateway's frames, duplicates and out-of-order frames are in the table, its ACK latency as the agent measured it`;
  }
  if (analysis.protocol === 'pg') {
    const impact = overall.some((m) => m.metric === 'live_latency_impact_p95_ms') ? `; added by mirroring p50 ${pick('live_latency_impact_p50_ms')}, p95 ${pick('live_latency_impact_p95_ms')}, p99 ${pick('live_latency_impact_p99_ms')}` : '; no run without mirroring to measure what it adds';
    return `clients: answered ${pick('answered')} of ${pick('sent')} statements through the pooler, latency p50 ${pick('client_latency_p50_ms')}, p95 ${pick('client_latency_p95_ms')}, p99 ${pick('client_latency_p99_ms')}${impact}; the pooler mirrored ${pick('mirror_share')} of its requests and dropped ${pick('pooler_dropped')} (queue full)`;
  }
  if (analysis.protocol === 'http') {
    const impact = overall.some((m) => m.metric === 'live_latency_impact_p95_ms')
      ? `; added by shadowing p50 ${pick('live_latency_impact_p50_ms')}, p95 ${pick('live_latency_impact_p95_ms')}, p99 ${pick('live_latency_impact_p99_ms')}`
      : '; no run without a shadow to measure what shadowing adds';
    const conditions = analysis.metrics
      .filter((m) => m.metric === 'live_latency_impact_p95_ms' && m.backend !== null)
      .map((m) => `${(m.backend as string).replace(/^shadow /, '')} ${formatMeasured(m)}`);
    const underConditions = conditions.length === 0 ? '' : `; p95 added with the shadow ${conditions.join(', ')}`;
    return `clients: answered ${pick('answered')} of ${pick('sent')} (5xx ${pick('server_errors')}); latency p50 ${pick('client_latency_p50_ms')}, p95 ${pick('client_latency_p95_ms')}, p99 ${pick('client_latency_p99_ms')}${impact}${underConditions}`;
  }
  // What reached no backend is the relay's, in no backend's row of the table: said here, beside what the devices got.
  const unreached = overall.some((m) => m.metric === 'unreached') ? `; reached no backend ${pick('unreached')} (${pick('unreached_rate')})` : '';
  // ACKs beyond what the devices asked for are said only where there are some: most runs have none.
  const unasked = overall.some((m) => m.metric === 'unasked_acks' && (m.value ?? 0) > 0) ? `, not asked for ${pick('unasked_acks')}` : '';
  const junk = overall.some((m) => m.metric === 'junk_to_devices' && (m.value ?? 0) > 0) ? `; no ACK and no backend's ${pick('junk_to_devices')}` : '';
  return `devices: ACKs received ${pick('device_acks')} (${pick('device_ack_rate')}), not the reference's ${pick('device_ack_mismatches')}${unasked}${junk}; round trip p50 ${pick('round_trip_p50_ms')}, p95 ${pick('round_trip_p95_ms')}, p99 ${pick('round_trip_p99_ms')}; relay added p95 ${pick('relay_added_latency_p95_ms')}${unreached}`;
}

export interface SummaryCell {
  text: string;
  status: Metric['status'];
}

export interface SummaryRow {
  route: string;
  backend: string;
  cells: SummaryCell[];
}

const STATUS_MARK: Record<string, string> = { healthy: '', warning: ' !', critical: ' X', inconclusive: ' ?' };

/** One row per route and backend, then one per backend over all routes; cells carry their metric's status. */
export function summaryRows(analysis: Analysis): SummaryRow[] {
  const index = new Map(analysis.metrics.map((m) => [`${m.metric}|${m.route}|${m.backend}`, m]));
  const rows: SummaryRow[] = [];
  // A run without routes (an HTTP run) has one row per backend over everything.
  const routes: (number | null)[] = analysis.routes.length === 0 ? [null] : [...analysis.routes.map((r) => r.port), ...(analysis.routes.length > 1 ? [null] : [])];
  for (const route of routes) {
    for (const backend of analysis.backends) {
      const label = route === null ? 'all' : routeLabel(analysis, route);
      rows.push({
        route: label,
        backend: backend === analysis.reference ? `${backend} (ref)` : backend,
        cells: summaryColumns(analysis).map(({ metric }) => {
          const m = index.get(`${metric}|${route}|${backend}`);
          return { text: m === undefined ? '-' : formatMeasured(m), status: m?.status ?? null };
        }),
      });
    }
  }
  return rows;
}

export function routeLabel(analysis: Analysis, port: number): string {
  const route = analysis.routes.find((r) => r.port === port);
  const labels = [route?.customer, route?.device].filter((l) => l !== undefined && l !== '').join('/');
  return labels === '' ? String(port) : `${port} ${labels}`;
}

/** A cell's text with a plain-text status mark (for terminals without colour and for Markdown). */
export function markedText(cell: SummaryCell): string {
  return `${cell.text}${cell.status === null ? '' : (STATUS_MARK[cell.status] ?? '')}`;
}

export const VERDICT_WORDS: Record<Analysis['verdict'], string> = {
  GO: 'GO',
  GO_WITH_WARNINGS: 'GO WITH WARNINGS',
  NO_GO: 'NO-GO',
  INCOMPLETE: 'INCOMPLETE',
  INCONCLUSIVE: 'INCONCLUSIVE',
};

/** The verdict in one line, with the count of findings. */
export function verdictLine(analysis: Analysis): string {
  const critical = analysis.findings.filter((f) => f.severity === 'critical').length;
  const inconclusive = analysis.findings.filter((f) => f.severity === 'inconclusive').length;
  const warnings = analysis.findings.filter((f) => f.severity === 'warning').length;
  const counts =
    critical + inconclusive + warnings === 0
      ? 'all metrics healthy'
      : [critical > 0 ? `${critical} critical` : '', inconclusive > 0 ? `${inconclusive} inconclusive` : '', warnings > 0 ? `${warnings} warning${warnings > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ');
  return `verdict for ${analysis.run.name}: ${VERDICT_WORDS[analysis.verdict]} (${counts})`;
}

/** The response fields of an HTTP run that differed, most often first, as table rows of text. */
export function responseFieldRows(analysis: Analysis): { backend: string; field: string; differing: string; noise: string; verdict: string; example: string }[] {
  return (analysis.responseFields ?? [])
    .filter((f) => f.differing > 0)
    .map((f) => ({
      backend: f.backend,
      field: f.field,
      differing: `${f.differing.toLocaleString('en-US')} of ${f.compared.toLocaleString('en-US')} (${formatMetricValue(f.differing / f.compared, 'ratio')})`,
      noise: f.noiseRate === null ? 'no A/A run' : formatMetricValue(f.noiseRate, 'ratio'),
      verdict: f.counted ? 'differs' : f.excused === 'ignored' ? 'ignored (thresholds)' : 'noise',
      example: f.example === null ? '' : `${analysis.reference} ${f.example.reference}, ${f.backend} ${f.example.other}`,
    }));
}
