import { num, str, type Row } from '../../store/store.ts';
import { formatMetricValue, type Finding } from '../analysis.ts';
import type { ResponseFieldParity } from './response-fields.ts';

const count = (n: number): string => n.toLocaleString('en-US');
/** How many differing fields or headers a finding names before "and N more". */
const NAMED = 4;

/**
 * Every answer should say where it was routed and why (X-Routed-To, X-Route-Reason) under the request id the client
 * sent, and with every request answered by the live side, X-Routed-To should name it.
 */
export function explainFindings(client: Row | undefined, reference: string): Finding[] {
  if (client === undefined) return [];
  const findings: Finding[] = [];
  const answered = num(client.answered);
  const finding = (message: string, value: number): Finding => ({ severity: 'warning', kind: 'explainability', metric: 'unexplained_answers', route: null, backend: null, value, message: `proxy: ${message}` });
  const unexplained = num(client.unexplained);
  if (unexplained > 0) findings.push(finding(`${count(unexplained)} of ${count(answered)} answers do not say where they were routed and why (no X-Routed-To or X-Route-Reason header)`, unexplained));
  const otherId = num(client.other_request_id);
  if (otherId > 0) findings.push(finding(`${count(otherId)} of ${count(answered)} answers carry another X-Request-ID than the one the client sent, or none`, otherId));
  const routes = client.routed_to === null ? [] : str(client.routed_to).split(',').filter((r) => r !== reference);
  if (routes.length > 0) findings.push(finding(`answers say they were routed to ${routes.join(', ')}; every answer should come from ${reference}`, routes.length));
  return findings;
}

/** Without an A/A run, nothing tells a volatile field from a difference: said once, so a NO-GO can be read right. */
export function noiseFindings(fields: readonly ResponseFieldParity[], noiseGiven: boolean, reference: string): Finding[] {
  if (noiseGiven || !fields.some((f) => f.counted)) return [];
  return [
    {
      severity: 'warning',
      kind: 'noise',
      metric: 'response_fields',
      route: null,
      backend: null,
      value: null,
      message: `no A/A run was given (--noise): every field that differs from ${reference}'s answer counts, timestamps and ids included; run the shadow as a second copy of ${reference} and pass that run to cancel them`,
    },
  ];
}

/** The headers that did not arrive as sent, for a request mismatch finding. */
export function headerDetails(rows: readonly Row[], backend: string): string {
  const mine = rows.filter((row) => str(row.backend) === backend);
  if (mine.length === 0) return '';
  const named = mine.slice(0, NAMED).map((row) => {
    const missing = num(row.missing);
    const changed = num(row.changed);
    const parts = [missing > 0 ? `missing in ${count(missing)}` : '', changed > 0 ? `changed in ${count(changed)} (sent ${quote(row.example_sent)}, received ${quote(row.example_received)})` : ''];
    return `header ${str(row.name)} ${parts.filter(Boolean).join(', ')}`;
  });
  return `; ${named.join('; ')}${mine.length > NAMED ? `; and ${mine.length - NAMED} more headers` : ''}`;
}

/** The fields that differ beyond noise, with both values, for a response mismatch finding. */
export function fieldDetails(fields: readonly ResponseFieldParity[], backend: string, reference: string): string {
  const counted = fields.filter((f) => f.backend === backend && f.counted);
  if (counted.length === 0) return '';
  const named = counted.slice(0, NAMED).map((f) => {
    const noise = f.noiseRate === null ? '' : `, A/A noise ${formatMetricValue(f.noiseRate, 'ratio')}`;
    const example = f.example === null ? '' : ` (${reference} ${f.example.reference}, ${backend} ${f.example.other})`;
    return `field ${f.field} differs in ${count(f.differing)} of ${count(f.compared)}${noise}${example}`;
  });
  return `; ${named.join('; ')}${counted.length > NAMED ? `; and ${counted.length - NAMED} more fields` : ''}`;
}

function quote(value: Row[string] | undefined): string {
  if (value === null || value === undefined) return 'nothing';
  const text = str(value);
  return `"${text.length > 60 ? `${text.slice(0, 57)}...` : text}"`;
}
