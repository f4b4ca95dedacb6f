import { widenOneSided, type Metric } from './analysis.ts';
import type { MetricName } from './metric-names.ts';

/**
 * A packet that reached a backend with bytes no device sent (truncated or rewritten by the relay, say) is counted as
 * lost (its own bytes never arrived) and as a stray beside it. The backend did receive something, so its loss, and its
 * drift from the reference, are known only to lie between their values and their values made better by as many of
 * those packets: judged at both ends, as the harness's own drops are (receive-drops.ts). The strays themselves are the
 * relay's finding (unsent_payload_rate). Applied after the harness's drops, adding to what they widened.
 */
export function judgeWithinUnsentPayloads(metrics: Metric[], reference: string): void {
  const find = (name: MetricName, route: number | null, backend: string | null): Metric | undefined => metrics.find((m) => m.metric === name && m.route === route && m.backend === backend);
  const unsentOf = (route: number | null, backend: string | null): number => find('unsent_payloads', route, backend)?.value ?? 0;
  if (!metrics.some((m) => m.metric === 'unsent_payloads' && (m.value ?? 0) > 0)) return;
  for (const m of metrics) {
    if (m.value === null || m.backend === null) continue;
    if (m.metric === 'drop_rate') {
      const sent = find('sent', m.route, m.backend)?.value ?? 0;
      const lost = find('lost_apart', m.route, m.backend)?.value ?? 0;
      widenOneSided(m, unsentOf(m.route, m.backend), lost, sent, 'unsent_payloads');
    } else if (m.metric === 'drift') {
      // The side that received fewer may have received as many more, altered: the gap may be that much smaller. (That
      // it may be larger, the other side's altered, is not weighed: those are a critical finding of their own.)
      const delivered = find('delivered', m.route, m.backend)?.value ?? 0;
      const referenceDelivered = find('delivered', m.route, reference)?.value ?? 0;
      const fewer = delivered < referenceDelivered ? unsentOf(m.route, m.backend) : unsentOf(m.route, reference);
      widenOneSided(m, fewer, Math.abs(delivered - referenceDelivered), referenceDelivered, 'unsent_payloads');
    }
  }
}
