import { runMetric, type Metric } from './analysis.ts';

/**
 * Answers the UDP replayer's own sockets dropped on arrival (their receive buffers full: a replayer that fell behind
 * reading) never reach the devices' view, and without this would count as ACKs the relay did not relay. The kernel
 * counts them per socket; the replayer stores the sum (ReplayStats.receiveDrops). Each device ACK rate is then known
 * only to lie between its value and its value plus what was dropped (never more than what is missing): judged at both
 * ends, a rate the drops could lift over a threshold is inconclusive, so the relay is neither blamed for the
 * harness's loss nor passed on it. A run that cannot tell (not Linux, or written before) keeps its rates as they are.
 */
export function judgeWithinReceiveDrops(metrics: Metric[], drops: number | null | undefined): void {
  if (drops === null || drops === undefined) return;
  metrics.push(runMetric('replay_receive_drops', null, drops, 'count'));
  if (drops === 0) return;
  const valueOf = (name: string, like: Metric): number | null => metrics.find((m) => m.metric === name && m.route === like.route && m.backend === like.backend)?.value ?? null;
  for (const m of metrics) {
    if (m.metric !== 'device_ack_rate' || m.value === null) continue;
    const expected = valueOf('device_ack_expected', m) ?? 0;
    const acked = valueOf('device_acks', m) ?? 0;
    const missing = Math.max(0, expected - acked);
    if (expected === 0 || missing === 0) continue;
    m.uncertainty = Math.min(drops, missing) / expected;
    m.uncertaintySource = 'harness_drops';
  }
}
