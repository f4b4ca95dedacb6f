/**
 * Every metric the analysis computes, with its human name for findings and reports: one list, so a metric's name is
 * checked where it is made (SQL column to metric), judged (thresholds) and shown (reports).
 */
export const METRIC_LABELS = {
  sent: 'sent',
  delivered: 'delivered',
  lost: 'lost',
  duplicated: 'duplicated',
  reordered: 'reordered',
  drop_rate: 'frame drop rate',
  forward_latency_p50_ms: 'forward latency p50',
  forward_latency_p95_ms: 'forward latency p95',
  forward_latency_p99_ms: 'forward latency p99',
  forward_latency_max_ms: 'forward latency max',
  ack_expected: 'requests wanting an ACK',
  acked: 'ACKs sent',
  naks: 'NAKs sent',
  ack_latency_p50_ms: 'ACK latency p50',
  ack_latency_p95_ms: 'ACK latency p95',
  ack_latency_p99_ms: 'ACK latency p99',
  ack_latency_max_ms: 'ACK latency max',
  drift: 'target drift',
  drift_max_window: 'target drift (worst window)',
  ack_compared: 'ACK pairs compared',
  ack_mismatches: 'ACK pairs differing',
  ack_mismatch_rate: 'ACK mismatch rate',
  one_sided_acks: 'requests ACKed by one backend only',
  relay_queue: 'relay queue size',
  device_ack_expected: 'requests wanting an ACK',
  device_acks: 'ACKs reaching devices',
  device_ack_rate: 'share of requests ACKed at the device',
  device_ack_compared: 'device ACKs compared',
  device_ack_mismatches: 'device ACKs not the reference\'s',
  device_ack_mismatch_rate: 'device ACK mismatch rate',
  round_trip_p50_ms: 'device round trip p50',
  round_trip_p95_ms: 'device round trip p95',
  round_trip_p99_ms: 'device round trip p99',
  round_trip_max_ms: 'device round trip max',
  relay_added_latency_p50_ms: 'relay-added latency p50',
  relay_added_latency_p95_ms: 'relay-added latency p95',
  relay_added_latency_p99_ms: 'relay-added latency p99',
  replay_lateness_p50_us: 'replay lateness p50',
  replay_lateness_p99_us: 'replay lateness p99',
  replay_lateness_max_us: 'replay lateness max',
  replay_achieved_rate_pps: 'achieved replay rate',
  replay_asked_rate_pps: 'asked replay rate',
  replay_rate_share: 'achieved share of the asked rate',
  replay_send_errors: 'sends that failed',
} as const;


export type MetricName = keyof typeof METRIC_LABELS;

export const isMetricName = (name: string): name is MetricName => Object.hasOwn(METRIC_LABELS, name);

/** What a finding can be about besides a metric: the run's state, and what observed it. */
export type FindingSubject = 'run_status' | 'backend_legs' | 'observer_errors' | 'relay_claimed_sent';
