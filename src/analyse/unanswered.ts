import type { Store } from '../store/store.ts';
import { num, str } from '../store/store.ts';
import { overallValue, type Finding, type Metric } from './analysis.ts';

/** The tables of sends through a proxy that keep why a send got no answer (`error`). */
export type ProxySends = 'http_sends' | 'pg_sends';

/** Why sends got no answer, the commonest first: the reasons a finding names. */
export interface UnansweredReason {
  reason: string;
  count: number;
}

/** How many reasons a finding names before "and N more". */
const NAMED = 3;

/** Why the run's sends through the proxy went unanswered, as the replayer recorded each. */
export async function unansweredReasons(store: Store, table: ProxySends, runId: number): Promise<UnansweredReason[]> {
  const rows = await store.query(`SELECT error, count(*) AS n FROM ${table} WHERE run_id = $run_id AND error IS NOT NULL GROUP BY error ORDER BY n DESC, error`, { run_id: runId });
  return rows.map((row) => ({ reason: str(row.error), count: num(row.n) }));
}

/**
 * A request the proxy (or pooler) left unanswered failed on the live path: the proxy's fault, never the replayer's
 * "could not send" (it was sent). Named with why: a connection closed, or an answer timeout that ran out.
 */
export function unansweredFindings(metrics: readonly Metric[], what: 'requests' | 'statements', reasons: readonly UnansweredReason[]): Finding[] {
  const sent = overallValue(metrics, 'sent', null) ?? 0;
  const answered = overallValue(metrics, 'answered', null) ?? 0;
  if (sent === 0 || answered >= sent) return [];
  const count = (n: number): string => n.toLocaleString('en-US');
  const named = reasons.slice(0, NAMED).map((r) => `${count(r.count)} ${r.reason}`);
  if (reasons.length > NAMED) named.push(`${count(reasons.slice(NAMED).reduce((sum, r) => sum + r.count, 0))} for ${reasons.length - NAMED} other reasons`);
  const why = named.length === 0 ? 'the connection failed or was reset' : named.join(', ');
  return [
    {
      severity: 'critical',
      kind: 'live_path',
      metric: 'answered',
      route: null,
      backend: null,
      value: answered,
      message: `${what === 'requests' ? 'proxy' : 'pooler'}: ${count(sent - answered)} of ${count(sent)} ${what} got no answer (${why}): the live path failed for them`,
    },
  ];
}
