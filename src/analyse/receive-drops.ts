import type { StoredReplayStats } from '../store/run-metadata.ts';
import { runMetric, type Metric } from './analysis.ts';
import type { MetricName } from './metric-names.ts';

/**
 * Datagrams the kernel dropped on arrival at the harness's own sockets (their receive buffers full: a process that
 * fell behind reading, stopped or starved of CPU) are losses of the harness, not of what it judges, and without this
 * would be put on the relay or a backend. The kernel counts them per socket: the UDP replayer stores its devices' sum
 * (`receiveDrops`), a tap its own (`observers[].receiveDrops`), a simulated backend its own (`backendDrops`: a stand-in
 * for a backend that loses what its machine was too busy to read has not shown the fault it was asked for).
 *
 * Each rate they could have worsened is then known only to lie between its value and its value made better by what was
 * dropped (never by more than what is missing): judged at both ends, a rate the drops could carry over a threshold is
 * inconclusive, so no one is blamed for the harness's loss and nothing passes on it.
 * - the devices' drops, and the reference backend's tap's (its answers lost before the relay got them): each device
 *   ACK rate, up by what is missing;
 * - a backend's tap's drops (packets for it, or its answers, lost at the tap), and a simulated backend's own: that
 *   backend's drop rate and ACK mismatch rate (answers it gave that the tap lost look one-sided), down by what they
 *   count.
 * A run that cannot tell (not Linux, or written before) keeps its rates as they are.
 */
export function judgeWithinHarnessDrops(metrics: Metric[], stats: Pick<StoredReplayStats, 'receiveDrops' | 'observers' | 'backendDrops'> | null, reference: string): void {
  const devices = stats?.receiveDrops;
  if (devices !== null && devices !== undefined) metrics.push(runMetric('replay_receive_drops', null, devices, 'count'));
  const byBackend = new Map<string, number>();
  for (const tap of stats?.observers ?? []) {
    if ((tap.receiveDrops ?? 0) > 0) byBackend.set(tap.backend, (byBackend.get(tap.backend) ?? 0) + (tap.receiveDrops ?? 0));
  }
  for (const [role, drops] of Object.entries(stats?.backendDrops ?? {})) if (drops > 0) byBackend.set(role, (byBackend.get(role) ?? 0) + drops);
  const deviceDrops = (devices ?? 0) + (byBackend.get(reference) ?? 0);
  // Nothing dropped (the usual run): no rate to widen, and no lookups over every metric for each one.
  if (deviceDrops === 0 && byBackend.size === 0) return;
  const valueOf = (name: MetricName, like: Metric): number => metrics.find((m) => m.metric === name && m.route === like.route && m.backend === like.backend)?.value ?? 0;
  for (const m of metrics) {
    if (m.value === null) continue;
    if (m.metric === 'device_ack_rate' && m.backend === null) {
      widen(m, deviceDrops, valueOf('device_ack_expected', m) - valueOf('device_acks', m), valueOf('device_ack_expected', m));
    } else if (m.metric === 'drop_rate' && m.backend !== null) {
      widen(m, byBackend.get(m.backend) ?? 0, valueOf('lost', m), valueOf('sent', m));
    } else if (m.metric === 'ack_mismatch_rate' && m.backend !== null) {
      const oneSided = valueOf('one_sided_acks', m);
      widen(m, byBackend.get(m.backend) ?? 0, oneSided, valueOf('ack_compared', m) + oneSided);
    }
  }
}

/** `m` may be off by up to `drops` of the `missing` it counts, out of `whole`. */
function widen(m: Metric, drops: number, missing: number, whole: number): void {
  const share = whole > 0 ? Math.min(drops, Math.max(0, missing)) / whole : 0;
  if (share <= 0) return;
  m.uncertainty = share;
  m.uncertaintySource = 'harness_drops';
}
