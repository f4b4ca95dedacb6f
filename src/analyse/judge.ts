import type { DeviceProtocol } from '../protocols/protocol.ts';
import { formatMeasured, formatMetricValue, judgedMetrics, metricLabel, type Finding, type Metric, type MismatchSample, type RelaySelfReport } from './analysis.ts';
import { DROPPED_BY_RELAY } from './relay-self-report.ts';
import { classifyBetween, LOWER_IS_WORSE, THRESHOLDED_METRICS, thresholdFor, type Threshold, type ThresholdConfig, type ThresholdedMetric, rangeOf } from './thresholds.ts';

/**
 * Gives each thresholded metric its status; metrics without a threshold or a value keep none. A metric with an
 * uncertainty is judged at both ends of it (inconclusive when they disagree).
 */
export function applyThresholds(metrics: Metric[], thresholds: ThresholdConfig): void {
  for (const metric of metrics) {
    if (!isThresholded(metric.metric) || metric.value === null) continue;
    const threshold = thresholdFor(thresholds, metric.metric, metric.route);
    metric.threshold = threshold;
    const [low, high] = rangeOf({ ...metric, value: metric.value });
    metric.status = classifyBetween(low, high, threshold, metric.metric);
  }
}

function isThresholded(name: string): name is ThresholdedMetric {
  return (THRESHOLDED_METRICS as readonly string[]).includes(name);
}

/**
 * Findings from thresholded metrics: one per route-level metric (and run-level ones), so a fault on one route is
 * named once, as a sentence with the numbers on both sides. ACK mismatches name the fields that differ, with both
 * values, from the mismatch samples.
 */
export function thresholdFindings(metrics: readonly Metric[], samples: readonly MismatchSample[], protocol: DeviceProtocol | null, reference: string): Finding[] {
  const findings: Finding[] = [];
  for (const metric of judgedMetrics(metrics)) {
    if (metric.status === null || metric.status === 'healthy' || metric.threshold === undefined) continue;
    if (metric.status === 'inconclusive') {
      findings.push(inconclusiveFinding(metric, metric.threshold, metrics));
      continue;
    }
    const edge = metric.status === 'critical' ? metric.threshold.critical : metric.threshold.warning;
    const where = metric.route === null ? '' : ` on route ${metric.route}`;
    const lowerIsWorse = LOWER_IS_WORSE.has(metric.metric as ThresholdedMetric);
    const bound = `${metric.status} ${lowerIsWorse ? 'below' : 'from'} ${formatMetricValue(edge, metric.unit)}`;
    // With its uncertainty, where it has one: a status that holds at both ends of it.
    let message = `${whoOf(metric, metrics)}: ${metricLabel(metric.metric)} ${formatMeasured(metric)}${where} is ${metric.status} (${bound})`;
    const evidence = evidenceOf(metric, metrics, reference);
    if (evidence !== '') message += `: ${evidence}`;
    if (protocol !== null && (metric.metric === 'ack_mismatch_rate' || metric.metric === 'device_ack_mismatch_rate')) message += describeMismatch(samples, protocol, reference, metric);
    findings.push({ severity: metric.status, kind: 'threshold', metric: metric.metric, route: metric.route, backend: metric.backend, value: metric.value, message });
  }
  return findings;
}

/**
 * A value whose uncertainty straddles a threshold's edge: named with its range and the edge, and put on what made it
 * uncertain (the machine's variation between runs, the harness's own lateness, or what its sockets dropped), since the
 * system under test cannot be told apart from it.
 */
function inconclusiveFinding(metric: Metric, threshold: Threshold, metrics: readonly Metric[]): Finding {
  const value = metric.value ?? 0;
  const [low, high] = rangeOf({ ...metric, value });
  const where = metric.route === null ? '' : ` on route ${metric.route}`;
  const lowerIsWorse = LOWER_IS_WORSE.has(metric.metric as ThresholdedMetric);
  const edges = [threshold.warning, threshold.critical].filter((edge) => edge > low && edge <= high);
  const named = edges.map((edge) => `${edge === threshold.warning ? 'warning' : 'critical'} ${lowerIsWorse ? 'below' : 'from'} ${formatMetricValue(edge, metric.unit)}`).join(', ');
  const { measured, show, why } = uncertaintyWords(metric, metrics);
  return {
    severity: 'inconclusive',
    kind: 'threshold',
    metric: metric.metric,
    route: metric.route,
    backend: metric.backend,
    value: metric.value,
    message: `${whoOf(metric, metrics)}: ${metricLabel(metric.metric)}${measured}${where} is inconclusive: anywhere from ${show(low)} to ${show(high)}, across the threshold (${named}). ${why}`,
  };
}

/** How an inconclusive finding shows a value of `metric`'s, and why the value is uncertain, by what made it so. */
function uncertaintyWords(metric: Metric, metrics: readonly Metric[]): { measured: string; show: (v: number) => string; why: string } {
  if (metric.uncertaintySource === 'unsent_payloads') {
    return {
      measured: '',
      show: (v) => formatMetricValue(v, metric.unit),
      why:
        `${metric.backend ?? 'A backend'} received packets whose bytes no device sent (unsent_payloads), and up to as many of those it is counted as missing ` +
        'may be among them, altered on the way: nothing is blamed and nothing passes; the relay is named for what it altered',
    };
  }
  if (metric.uncertaintySource === 'harness_drops') {
    return {
      measured: '',
      show: (v) => formatMetricValue(v, metric.unit),
      why:
        (metric.metric === 'unreached_rate'
          ? "A backend's tap, or a simulated backend itself, dropped datagrams on arrival (receive buffers full), so some of the packets counted as reaching no backend may have reached one"
          : metric.backend === null
          ? "The replayer's own sockets, or the reference backend's tap, dropped answers on arrival (their receive buffers full), so some of the ACKs missing may have been relayed"
          : `${metric.backend}'s tap, or ${metric.backend} itself where it is simulated, dropped datagrams on arrival (receive buffers full), so some of what is counted against ${metric.backend} was lost by the harness`) +
        ': nothing is blamed and nothing passes; run again with the harness less loaded (the replay slower, its sending thread on a CPU of its own with --sender-cpu)',
    };
  }
  if (metric.uncertaintySource === 'unrecorded') {
    const unrecorded = metrics.find((m) => m.metric === 'recording_unrecorded')?.value ?? 0;
    return {
      measured: metric.bounds !== undefined ? ` ${formatMetricValue(metric.value, metric.unit)}` : ` ${formatMetricValue(metric.value, metric.unit)} ± ${formatMetricValue(metric.uncertainty ?? 0, metric.unit)}`,
      // A share lies between none and all of its whole, however wide the gap.
      show: (v) => formatMetricValue(metric.unit === 'ratio' ? Math.min(1, Math.max(0, v)) : Math.max(0, v), metric.unit),
      why:
        `The recording could not record ${unrecorded.toLocaleString('en-US')} datagrams (a store that fell behind, or the kernel's drops before a capture or a tap ` +
        (metric.unit === 'ratio' || metric.unit === 'count'
          ? 'read them), and any of the counts may be off by as many, either way'
          : 'read them), and as many of the latency samples may be missing or wrong (an answer unseen, a later one taken for it), which moves the percentile as many places either way') +
        ': nothing is blamed and nothing passes; record again with the recorder less loaded',
    };
  }
  // A difference between runs is signed; a latency stamped by the harness is not, and is never below zero.
  const difference = metric.uncertaintySource !== 'harness_lag';
  const show = (v: number): string => `${v > 0 && difference ? '+' : ''}${formatMetricValue(difference ? v : Math.max(0, v), metric.unit)}`;
  return {
    measured: ` ${show(metric.value ?? 0)} ± ${formatMetricValue(metric.uncertainty ?? 0, metric.unit)}`,
    show,
    why:
      metric.uncertaintySource === 'harness_lag'
        ? "The harness's own event loop ran that late at p99 while it timestamped the legs (harness lag), so its stamps " +
          'cannot place the latency on either side: nothing is blamed and nothing passes; run again on a less loaded machine'
        : 'The latency moved by that much within the runs compared (p95 of their first half against their second): the ' +
          'machine, or the system itself drifting within a run (a queue that grows), may be what moved it, and the ' +
          'runs cannot tell which: nothing is blamed and nothing passes; run again on a quieter machine, or longer',
  };
}

/** An answer this slow at the backend is one a relay may have stopped waiting for: the finding says so. */
const UNRELAYED_SLOW_MS = 1000;

/** Who a metric judges: a backend, the devices' view (relayed ACKs), or the relay itself (an HTTP run's proxy). */
function whoOf(metric: Metric, metrics: readonly Metric[]): string {
  // A UDP backend's receipts are seen in front of it: what reached it twice was copied on the way, not by it.
  if (metric.metric === 'extra_copy_rate' || metric.metric === 'unsent_payload_rate') return 'relay';
  // The same for the order a UDP backend received packets in (a gateway or a mirrored database reports its own).
  if (metric.metric === 'reorder_rate' && isUdpRun(metrics)) return 'relay';
  if (metric.backend !== null) return metric.backend;
  if (metric.metric.startsWith('live_latency_')) return 'clients';
  return metric.metric.startsWith('device_') ? 'devices' : relayOf(metrics);
}

/** A UDP run's metrics: extra_copy_rate is that family's alone (its backends' receipts are seen in front of them). */
function isUdpRun(metrics: readonly Metric[]): boolean {
  return metrics.some((m) => m.metric === 'extra_copy_rate');
}

/**
 * What carries the traffic to the backends: an HTTP run's shadowing proxy (its client's answers are counted), a
 * WebSocket run's relay agent (its own counts are read), or a relay.
 */
function relayOf(metrics: readonly Metric[]): 'proxy' | 'agent' | 'relay' {
  if (metrics.some((m) => m.metric === 'answered' && m.backend === null)) return 'proxy';
  return metrics.some((m) => m.metric === 'agent_claimed_sent') ? 'agent' : 'relay';
}

/** How a family's findings name what sends the traffic, and where it goes. */
const SENDERS = { proxy: 'the client sent', agent: 'fed to the agent', relay: 'the devices sent' } as const;
const BACKENDS = { proxy: 'backend', agent: 'gateway', relay: 'backend' } as const;

/** The counts behind a rate, or the reference's figure beside a backend's, so a finding can be checked by hand. */
function evidenceOf(metric: Metric, metrics: readonly Metric[], reference: string): string {
  const value = (name: string, backend: string | null = metric.backend): number | null =>
    metrics.find((m) => m.metric === name && m.route === metric.route && m.backend === backend)?.value ?? null;
  const count = (n: number | null): string => (n === null ? '-' : Math.round(n).toLocaleString('en-US'));
  const units = metrics.some((m) => m.metric === 'mirror_share') ? 'statements' : value('answered', null) !== null ? 'requests' : metrics.some((m) => m.metric === 'duplicate_rate') ? 'frames' : 'packets';
  switch (metric.metric) {
    case 'drop_rate': {
      // Beside what no backend received (the relay's finding, unreached_rate), where two or more backends carry it.
      const everywhere = value('unreached', null) ?? 0;
      const relay = relayOf(metrics);
      const other = BACKENDS[relay];
      const beside = everywhere > 0 ? ` that another ${other} received (${count(everywhere)} more reached no ${other}: the ${relay}'s finding, not ${metric.backend ?? `a ${other}`}'s)` : '';
      return `${count(value('lost_apart') ?? value('lost'))} of ${count(value('sent'))} ${units} did not arrive${beside}${relayFailedNote(metrics, [metric.backend], false)}`;
    }
    case 'unreached_rate': {
      const relay = relayOf(metrics);
      const backend = BACKENDS[relay];
      // A packet altered on the way to every backend reached none of them as itself: lost or altered, the relay's either way.
      const unsent = metrics.filter((m) => m.metric === 'unsent_payloads' && m.route === metric.route && m.backend !== null).map((m) => m.value ?? 0);
      const altered = unsent.length === 0 ? 0 : Math.min(...unsent);
      const orAltered = altered > 0 ? `; up to ${count(altered)} of them may have reached every ${backend} altered (each received that many ${units} whose bytes no device sent)` : '';
      return (
        `${count(value('unreached'))} of ${count(value('unreached_of') ?? value('sent'))} ${units} ${SENDERS[relay]}${value('unreached_of') !== null && value('unreached_of') !== value('sent') ? ` where two or more ${backend}s were owed them` : ''} reached no ${backend}: lost on the way to the ${relay} or at it, ` +
        `before its copies (or by every ${backend} alike, which a run cannot tell apart), so no ${backend} is blamed for them${orAltered}` +
        relayFailedNote(metrics, metrics.filter((m) => m.metric === 'relay_failed_sends' && m.route === null).map((m) => m.backend))
      );
    }
    case 'unasked_ack_rate':
      return (
        `${count(value('unasked_acks'))} ACKs reached devices beyond the requests they made with that match key: handed to a device that did not ask ` +
        `for them (another device's answer, its data leaked to the wrong device), or a second answer to one request; either way a device was told what it did not ask`
      );
    case 'junk_to_device_rate':
      return (
        `${count(value('junk_to_devices'))} datagrams reached devices that are no ACK (their bytes do not parse as one) and that no backend sent: ` +
        `made up or mangled on the way to the devices, by the relay or the network between`
      );
    case 'extra_ack_rate':
      return (
        `${metric.backend ?? 'a backend'} sent ${count(value('extra_acks'))} ACKs beyond the requests it received with their match key (a second answer ` +
        `to one request, or an answer to one it never received; ${count(value('acked'))} requests ACKed): a relay passes them on, and a device is told ` +
        `what it did not ask`
      );
    case 'extra_copy_rate': {
      const backend = metric.backend ?? 'a backend';
      return (
        `${backend} received ${count(value('extra_copies'))} more copies of the ${count(value('delivered'))} ${units} that reached it than the devices sent: ` +
        `sent to it more than once on the way (by the relay, or the network between), and ${backend} processes each copy; not ${backend}'s doing`
      );
    }
    case 'unsent_payload_rate': {
      const backend = metric.backend ?? 'a backend';
      return (
        `${backend} received ${count(value('unsent_payloads'))} ${units} whose bytes no device sent in the run: altered on the way (by the relay, or the ` +
        `network between), or sent to it by something other than the relay's copies; up to as many of what ${backend} is counted as losing may ` +
        `have reached it altered, and are not held against it`
      );
    }
    case 'pooler_drop_rate':
      return `${count(value('pooler_dropped', null))} requests the pooler sampled for the mirror were dropped because its mirror queue was full`;
    case 'duplicate_rate':
      return `${count(value('duplicated'))} of ${count(value('delivered'))} ${units} were processed more than once`;
    case 'reorder_rate':
      if (isUdpRun(metrics)) {
        const backend = metric.backend ?? 'a backend';
        return (
          `${backend} received ${count(value('reordered'))} of the ${count(value('delivered'))} ${units} that reached it after a packet their device sent later: ` +
          `reordered on the way (by the relay, or the network between), and ${backend} processes them out of order; not ${backend}'s doing`
        );
      }
      return `${count(value('reordered'))} of ${count(value('delivered'))} ${units} came after a later one of their stream`;
    case 'body_mismatch_rate': {
      const empty = value('empty_bodies') ?? 0;
      return `${count(value('body_mismatches'))} of ${count(value('delivered'))} requests arrived with another body than the client sent or a Content-Length that does not match it${empty > 0 ? `, ${count(empty)} of them with an empty body` : ''}`;
    }
    case 'request_mismatch_rate':
      return `${count(value('request_mismatches'))} of ${count(value('delivered'))} requests arrived with another method, path or headers than the client sent`;
    case 'status_mismatch_rate':
      return `${count(value('status_mismatches'))} of ${count(value('status_compared'))} answers have another status than ${reference}'s (a reset counts as one)`;
    case 'response_mismatch_rate':
      return `${count(value('response_mismatches'))} of ${count(value('response_compared'))} answers with the same status differ from ${reference}'s beyond noise`;
    case 'answer_latency_p95_ms': {
      const ref = metric.backend === reference ? null : value('answer_latency_p95_ms', reference);
      return ref === null ? '' : `${metric.backend} answers in ${formatMetricValue(metric.value, 'ms')} at p95, ${reference} in ${formatMetricValue(ref, 'ms')}`;
    }
    case 'live_latency_impact_p95_ms': {
      const withShadow = value('client_latency_p95_ms');
      const without = withShadow === null || metric.value === null ? null : withShadow - metric.value;
      return `the live path is slowed by the shadow: client latency p95 ${formatMetricValue(withShadow, 'ms')} with it, ${formatMetricValue(without, 'ms')} in the run with no shadow`;
    }
    case 'ack_latency_p95_ms': {
      const own = formatMetricValue(metric.value, 'ms');
      const ref = metric.backend === reference ? null : value('ack_latency_p95_ms', reference);
      return ref === null ? '' : `${metric.backend} answers in ${own} at p95, ${reference} in ${formatMetricValue(ref, 'ms')}`;
    }
    case 'drift':
      return `${metric.backend} received ${count(value('delivered'))} ${units}, ${reference} ${count(value('delivered', reference))}${relayFailedNote(metrics, [metric.backend, reference], false)}`;
    case 'ack_mismatch_rate':
      return `${count(value('ack_mismatches'))} of ${count(value('ack_compared'))} answers differ, ${count(value('one_sided_acks'))} requests answered by one side only`;
    case 'device_ack_rate': {
      // A request the relay could not send to the backend that answers its route got no ACK either: every backend's
      // failed sends are named (the ACK side may differ by route), as the relay's facts, not a sum.
      const failedTo = metrics.filter((m) => m.metric === 'relay_failed_sends' && m.route === null).map((m) => m.backend);
      const got = `${count(value('device_acks'))} of ${count(value('device_ack_expected'))} requests that want an ACK got one back at the device${relayFailedNote(metrics, failedTo)}`;
      const unrelayed = value('device_unrelayed_acks') ?? 0;
      if (unrelayed === 0) return got;
      const answerMs = value('device_unrelayed_answer_p50_ms');
      // The reference's answers exist: what the devices missed is the relay's to explain, a late answer included.
      return (
        `${got}; ${reference} answered ${count(unrelayed)} of those that got none (in ${formatMetricValue(answerMs, 'ms')} at p50) and the relay did not pass them on` +
        (answerMs !== null && answerMs >= UNRELAYED_SLOW_MS ? ' (a relay gives up on an answer slower than its response timeout: 2 s in the dual-mirroring spec\'s example config)' : '')
      );
    }
    case 'device_ack_mismatch_rate':
      return `${count(value('device_ack_mismatches'))} of ${count(value('device_ack_compared'))} ACKs the devices got are not what ${reference} answered`;
    case 'relay_added_latency_p95_ms':
      return `device round trip p95 ${formatMetricValue(value('round_trip_p95_ms'), 'ms')}, of which ${reference}'s own answer p95 ${formatMetricValue(value('ack_latency_p95_ms', reference), 'ms')}`;
    default:
      return '';
  }
}

/**
 * What the relay itself reports of a loss (run-level counts): the devices' packets it dropped on arrival (lost to every
 * backend alike: `withArrivals` false where only a difference between backends is judged) and its own failed sends to
 * each of `backends`.
 */
function relayFailedNote(metrics: readonly Metric[], backends: readonly (string | null)[], withArrivals = true): string {
  const runLevel = (name: string, backend: string | null): number => metrics.find((m) => m.metric === name && m.route === null && m.backend === backend)?.value ?? 0;
  const notes: string[] = [];
  const dropped = withArrivals ? runLevel('relay_receive_drops', null) : 0;
  if (dropped > 0) notes.push(`${Math.round(dropped).toLocaleString('en-US')} of the devices' packets dropped on arrival at it`);
  for (const backend of new Set(backends)) {
    const failed = backend === null ? 0 : runLevel('relay_failed_sends', backend);
    if (failed > 0) notes.push(`${Math.round(failed).toLocaleString('en-US')} of its sends to ${backend} failed at its side`);
  }
  return notes.length === 0 ? '' : `; the relay itself reports ${notes.join(' and ')}`;
}

function describeMismatch(samples: readonly MismatchSample[], protocol: DeviceProtocol, reference: string, metric: Metric): string {
  const view = metric.backend === null ? 'device' : 'backend';
  const relevant = samples.filter((s) => s.view === view && (view === 'device' || s.backend === metric.backend) && (metric.route === null || s.route === metric.route));
  if (relevant.length === 0) return '';
  const other = view === 'device' ? 'the devices got' : (metric.backend as string);
  const described = new Map<string, string>();
  for (const sample of relevant) {
    for (const d of sample.differences) {
      if (described.has(d.field)) continue;
      described.set(
        d.field,
        d.field === 'kind'
          ? `${other} ${view === 'device' ? d.other.toUpperCase() : `answered ${d.other.toUpperCase()}`} where ${reference} answered ${d.reference.toUpperCase()}`
          : `${protocol.ackFieldLabels[d.field] ?? d.label} differs (${reference} ${d.reference}, ${other} ${d.other})`,
      );
    }
  }
  return `; ${[...described.values()].join('; ')}`;
}

/**
 * Why a relay's sends fail that are its own doing, not the backend's, as the reference relay names them (its
 * /debug/targets errors), in words: its send queue towards the backend was full (the kernel's, then the one it keeps,
 * fitsWaiting), or it had no socket to send with. A refusal or an unreachable backend is the backend's side.
 */
export const RELAY_SIDE_SEND_FAILURES: Readonly<Record<string, string>> = {
  no_buffer: 'its send queue full',
  socket_budget: 'its socket budget spent',
  source_budget: "the device's address at its share of the budget",
  route_budget: "the route at its share of the budget",
  socket_error: 'no socket could be made',
  [DROPPED_BY_RELAY]: 'not sent at all: its kill switch on, or the target disabled',
};

/** A target's sends that failed at the relay's own side during the run (RELAY_SIDE_SEND_FAILURES). */
export function relaySideFailures(target: RelaySelfReport['targets'][number]): number {
  return Object.keys(RELAY_SIDE_SEND_FAILURES).reduce((sum, kind) => sum + (target.failedKinds[kind] ?? 0), 0);
}

/**
 * Checks the relay's own counters against what was observed: a relay that claims more than it sent is a finding, and
 * so is one that says it could not send what a backend then did not get (its own fault, named so that the backend is
 * not blamed for it), judged by the drop rate's thresholds.
 */
export function selfReportFindings(report: RelaySelfReport | null, dropThreshold: Threshold): Finding[] {
  if (report === null) return [];
  const findings: Finding[] = [];
  const dropped = report.receiveDrops ?? 0;
  if (dropped > 0) {
    findings.push({
      severity: dropped / Math.max(1, report.observedUplink) >= dropThreshold.critical ? 'critical' : 'warning',
      kind: 'relay_self_report',
      metric: 'relay_receive_drops',
      route: null,
      backend: null,
      value: dropped,
      message:
        `relay: its kernel dropped ${dropped.toLocaleString('en-US')} of the devices' packets on arrival, its listening sockets' receive buffers full ` +
        "(its own count): no backend got them (they are among the packets that reached no backend), and that much of the devices' missing ACKs is the relay's",
    });
  }
  for (const target of report.targets) {
    const own = relaySideFailures(target);
    if (own > 0) {
      const share = own / Math.max(1, target.observedUplink);
      const kinds = Object.entries(target.failedKinds)
        .map(([kind, n]) => `${n.toLocaleString('en-US')} ${kind}${RELAY_SIDE_SEND_FAILURES[kind] === undefined ? '' : `, ${RELAY_SIDE_SEND_FAILURES[kind]}`}`)
        .join('; ');
      findings.push({
        severity: share >= dropThreshold.critical ? 'critical' : 'warning',
        kind: 'relay_self_report',
        metric: 'relay_failed_sends',
        route: null,
        backend: target.backend,
        value: own,
        message:
          `relay: ${own.toLocaleString('en-US')} of its sends to ${target.backend} (${target.url}) failed at its own side ` +
          `(its own counts: ${kinds}): ${target.backend} never got them, and that much of ${target.backend}'s loss is the relay's, not ${target.backend}'s`,
      });
    }
    const finding = (severity: Finding['severity'], message: string): Finding => ({
      severity,
      kind: 'relay_self_report',
      metric: 'relay_claimed_sent',
      route: null,
      backend: target.backend,
      value: target.claimedSent,
      message: `${target.backend}: ${message}`,
    });
    if (target.restarted) {
      findings.push(finding('warning', `the relay's sent counter for ${target.url} went backwards during the run: the relay restarted`));
    } else if (target.claimedSent > target.observedUplink) {
      findings.push(finding('critical', `the relay claims ${target.claimedSent} packets sent to ${target.url} during the run, more than the ${target.observedUplink} the devices sent`));
    } else if (target.claimedSent < target.observedDelivered) {
      findings.push(finding('warning', `the relay claims ${target.claimedSent} packets sent to ${target.url}, fewer than the ${target.observedDelivered} it received`));
    }
  }
  return findings;
}

/** A rate or ramp plan the replayer could not hold: the relay was tested at less load than asked. */
export function replayFidelityFindings(metrics: readonly Metric[], thresholds: ThresholdConfig): Finding[] {
  const share = metrics.find((m) => m.metric === 'replay_rate_share' && m.route === null && m.backend === null);
  if (share?.value === null || share === undefined || share.value >= thresholds.minReplayRateShare) return [];
  return [
    {
      severity: 'warning',
      kind: 'replay_fidelity',
      metric: 'replay_rate_share',
      route: null,
      backend: null,
      value: share.value,
      message: `replay achieved ${formatMetricValue(share.value, 'ratio')} of the asked rate: the relay was tested at less load than planned`,
    },
  ];
}
