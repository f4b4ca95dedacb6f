import type { DeviceProtocol } from '../protocols/protocol.ts';
import { formatMetricValue, judgedMetrics, metricLabel, type Finding, type Metric, type MismatchSample, type RelaySelfReport } from './analysis.ts';
import { classify, thresholdFor, type ThresholdConfig, type ThresholdedMetric } from './thresholds.ts';

const THRESHOLD_OF_METRIC: Record<string, ThresholdedMetric> = {
  drop_rate: 'drop_rate',
  ack_latency_p95_ms: 'ack_latency_p95_ms',
  drift: 'drift',
  ack_mismatch_rate: 'ack_mismatch_rate',
  relay_queue: 'relay_queue',
};

/** Gives each thresholded metric its status; metrics without a threshold or a value keep none. */
export function applyThresholds(metrics: Metric[], thresholds: ThresholdConfig): void {
  for (const metric of metrics) {
    const name = THRESHOLD_OF_METRIC[metric.metric];
    if (name === undefined || metric.value === null) continue;
    const threshold = thresholdFor(thresholds, name, metric.route);
    metric.threshold = threshold;
    metric.status = classify(metric.value, threshold);
  }
}

/**
 * Findings from thresholded metrics: one per route-level metric (and run-level ones), so a fault on one route is
 * named once. ACK mismatches name the fields that differ, with both values, from the mismatch samples.
 */
export function thresholdFindings(metrics: readonly Metric[], samples: readonly MismatchSample[], protocol: DeviceProtocol, reference: string): Finding[] {
  const findings: Finding[] = [];
  for (const metric of judgedMetrics(metrics)) {
    if (metric.status === null || metric.status === 'healthy' || metric.threshold === undefined) continue;
    const edge = metric.status === 'critical' ? metric.threshold.critical : metric.threshold.warning;
    const where = metric.route === null ? '' : ` on route ${metric.route}`;
    const who = metric.backend === null ? 'relay' : metric.backend;
    let message = `${who}: ${metricLabel(metric.metric)} ${formatMetricValue(metric.value, metric.unit)}${where} is ${metric.status} (${metric.status} from ${formatMetricValue(edge, metric.unit)})`;
    if (metric.metric === 'ack_mismatch_rate') message += describeMismatch(samples, protocol, reference, metric);
    findings.push({ severity: metric.status, kind: 'threshold', metric: metric.metric, route: metric.route, backend: metric.backend, value: metric.value, message });
  }
  return findings;
}

function describeMismatch(samples: readonly MismatchSample[], protocol: DeviceProtocol, reference: string, metric: Metric): string {
  const relevant = samples.filter((s) => s.backend === metric.backend && (metric.route === null || s.route === metric.route));
  if (relevant.length === 0) return `; requests answered by one backend only`;
  const fields = new Map<string, { reference: string; other: string }>();
  for (const sample of relevant) {
    for (const field of sample.differingFields) {
      if (!fields.has(field)) fields.set(field, { reference: String(sample.referenceFields[field] ?? '-'), other: String(sample.otherFields[field] ?? '-') });
    }
  }
  const described = [...fields].map(([field, values]) => `${protocol.ackFieldLabels[field] ?? field} differs (${reference} ${values.reference}, ${metric.backend} ${values.other})`);
  return `: ${described.join('; ')}`;
}

/** Checks the relay's own counters against what was observed: a relay that claims more than it sent is a finding. */
export function selfReportFindings(report: RelaySelfReport | null): Finding[] {
  if (report === null) return [];
  const findings: Finding[] = [];
  for (const target of report.targets) {
    if (target.claimedSent > target.observedUplink) {
      findings.push({
        severity: 'critical',
        kind: 'relay_self_report',
        metric: 'relay_claimed_sent',
        route: null,
        backend: target.backend,
        value: target.claimedSent,
        message: `${target.backend}: the relay claims ${target.claimedSent} packets sent to ${target.url}, more than the ${target.observedUplink} the devices sent`,
      });
    } else if (target.claimedSent < target.observedDelivered) {
      findings.push({
        severity: 'warning',
        kind: 'relay_self_report',
        metric: 'relay_claimed_sent',
        route: null,
        backend: target.backend,
        value: target.claimedSent,
        message: `${target.backend}: the relay claims ${target.claimedSent} packets sent to ${target.url}, fewer than the ${target.observedDelivered} it received`,
      });
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
