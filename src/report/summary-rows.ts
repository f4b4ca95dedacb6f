import { formatMetricValue, type Analysis, type Metric } from '../analyse/analysis.ts';

/** The columns of the per-route, per-backend summary every report shows (terminal, Markdown, HTML). */
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

export interface SummaryCell {
  text: string;
  status: Metric['status'];
}

export interface SummaryRow {
  route: string;
  backend: string;
  cells: SummaryCell[];
}

const STATUS_MARK: Record<string, string> = { healthy: '', warning: ' !', critical: ' X' };

/** One row per route and backend, then one per backend over all routes; cells carry their metric's status. */
export function summaryRows(analysis: Analysis): SummaryRow[] {
  const index = new Map(analysis.metrics.map((m) => [`${m.metric}|${m.route}|${m.backend}`, m]));
  const rows: SummaryRow[] = [];
  const routes: (number | null)[] = [...analysis.routes.map((r) => r.port), ...(analysis.routes.length > 1 ? [null] : [])];
  for (const route of routes) {
    for (const backend of analysis.backends) {
      const label = route === null ? 'all' : routeLabel(analysis, route);
      rows.push({
        route: label,
        backend: backend === analysis.reference ? `${backend} (ref)` : backend,
        cells: SUMMARY_COLUMNS.map(({ metric }) => {
          const m = index.get(`${metric}|${route}|${backend}`);
          return { text: m === undefined ? '-' : formatMetricValue(m.value, m.unit), status: m?.status ?? null };
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
};

/** The verdict in one line, with the count of findings. */
export function verdictLine(analysis: Analysis): string {
  const critical = analysis.findings.filter((f) => f.severity === 'critical').length;
  const warnings = analysis.findings.filter((f) => f.severity === 'warning').length;
  const counts = critical + warnings === 0 ? 'all metrics healthy' : [critical > 0 ? `${critical} critical` : '', warnings > 0 ? `${warnings} warning${warnings > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ');
  return `verdict for ${analysis.run.name}: ${VERDICT_WORDS[analysis.verdict]} (${counts})`;
}
