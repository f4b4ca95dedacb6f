import type { StoredReplayStats } from '../store/run-metadata.ts';
import { runMetric, widenOneSided, type Metric } from './analysis.ts';
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
 * - the devices' drops, and the reference backend's tap's or its own (answers lost before the relay got them, or
 *   requests never answered): each device ACK rate, up by what is missing;
 * - packets for a backend lost at its tap's listener, or at its own socket where it is simulated: that backend's drop
 *   rate, down by what they count, and the share of packets that reached no backend, down by all backends' such drops;
 * - a backend's answers lost at its tap's upstream sockets (`replyDrops`): its ACK mismatch rate (an answer it gave
 *   that the tap lost looks one-sided). A tap that did not tell the two apart (a run written before) widens both by
 *   all its drops.
 * A run that cannot tell (not Linux, or written before) keeps its rates as they are.
 */
export function judgeWithinHarnessDrops(metrics: Metric[], stats: Pick<StoredReplayStats, 'receiveDrops' | 'observers' | 'backendDrops'> | null, reference: string): void {
  const devices = stats?.receiveDrops;
  if (devices !== null && devices !== undefined) metrics.push(runMetric('replay_receive_drops', null, devices, 'count'));
  /** By backend: every drop of the harness in front of it, those of packets for it, those of its answers. */
  const all = new Map<string, number>();
  const towards = new Map<string, number>();
  const answers = new Map<string, number>();
  const add = (map: Map<string, number>, backend: string, drops: number): void => {
    if (drops > 0) map.set(backend, (map.get(backend) ?? 0) + drops);
  };
  for (const tap of stats?.observers ?? []) {
    const drops = tap.receiveDrops ?? 0;
    const ofAnswers = tap.replyDrops === null || tap.replyDrops === undefined ? drops : Math.min(drops, tap.replyDrops);
    const ofPackets = tap.replyDrops === null || tap.replyDrops === undefined ? drops : drops - ofAnswers;
    add(all, tap.backend, drops);
    add(towards, tap.backend, ofPackets);
    add(answers, tap.backend, ofAnswers);
  }
  // A simulated backend's socket only receives the relay's packets: what it dropped never reached it to be answered.
  for (const [role, drops] of Object.entries(stats?.backendDrops ?? {})) {
    add(all, role, drops);
    add(towards, role, drops);
  }
  const deviceDrops = (devices ?? 0) + (all.get(reference) ?? 0);
  // Nothing dropped (the usual run): no rate to widen, and no lookups over every metric for each one.
  if (deviceDrops === 0 && all.size === 0) return;
  const find = (name: MetricName, like: Metric): Metric | undefined => metrics.find((m) => m.metric === name && m.route === like.route && m.backend === like.backend);
  const valueOf = (name: MetricName, like: Metric): number => find(name, like)?.value ?? 0;
  for (const m of metrics) {
    if (m.value === null) continue;
    if (m.metric === 'device_ack_rate' && m.backend === null) {
      widen(m, deviceDrops, valueOf('device_ack_expected', m) - valueOf('device_acks', m), valueOf('device_ack_expected', m));
    } else if (m.metric === 'drop_rate' && m.backend !== null) {
      // A UDP backend's drop rate counts what it lost that another backend received (lost_apart); other families' all.
      widen(m, towards.get(m.backend) ?? 0, valueOf(find('lost_apart', m) === undefined ? 'lost' : 'lost_apart', m), valueOf('sent', m));
    } else if (m.metric === 'unreached_rate' && m.backend === null) {
      // A packet counted as reaching no backend may have reached one whose harness socket dropped it.
      widen(m, [...towards.values()].reduce((a, b) => a + b, 0), valueOf('unreached', m), valueOf('sent', m));
    } else if (m.metric === 'ack_mismatch_rate' && m.backend !== null) {
      const oneSided = valueOf('one_sided_acks', m);
      widen(m, answers.get(m.backend) ?? 0, oneSided, valueOf('ack_compared', m) + oneSided);
    }
  }
}

/** `m` may be off by up to `drops` of the `missing` it counts, out of `whole`: the harness's drops. */
const widen = (m: Metric, drops: number, missing: number, whole: number): void => widenOneSided(m, drops, missing, whole, 'harness_drops');
