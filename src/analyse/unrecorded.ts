import type { RunRecord } from '../store/runs.ts';
import { numOrNull, str, strOrNull, type Store } from '../store/store.ts';
import { runMetric, type Finding, type Metric } from './analysis.ts';
import { ANALYSIS_STEPS } from './analysis-steps.ts';
import { NO_BACKEND } from './correlate-run.ts';
import type { MetricName } from './metric-names.ts';

/**
 * The counts each rate is taken of (compute-metrics.ts), found among the metrics of the same route and backend; drift's
 * is the reference backend's.
 */
const WHOLE_OF: Partial<Record<MetricName, readonly MetricName[]>> = {
  drop_rate: ['sent'],
  unreached_rate: ['sent'],
  extra_copy_rate: ['delivered'],
  unsent_payload_rate: ['delivered', 'duplicated'],
  reorder_rate: ['delivered'],
  extra_ack_rate: ['acked', 'extra_acks'],
  ack_mismatch_rate: ['ack_compared', 'one_sided_acks'],
  device_ack_rate: ['device_ack_expected'],
  device_ack_mismatch_rate: ['device_ack_compared'],
  unasked_ack_rate: ['device_acks', 'unasked_acks'],
  junk_to_device_rate: ['device_acks', 'unasked_acks', 'junk_to_devices'],
};

/**
 * Datagrams the run's recordings could not record: its own (`parity record`, `parity import --run`: its queue full
 * while the store fell behind, or dropped by the kernel before a live capture or a tap read them, or by the capture a
 * file was taken with), and each merged backend store's (`parity backend --db`, its queue full), counted once a store.
 */
export function unrecordedOf(run: Pick<RunRecord, 'recording' | 'topology'>): number {
  const stores = new Map<string, number>();
  for (const backend of run.topology.backends) if ((backend.unrecorded ?? 0) > 0) stores.set(backend.unfinished ?? backend.role, backend.unrecorded ?? 0);
  return (run.recording?.unrecorded ?? 0) + [...stores.values()].reduce((sum, n) => sum + n, 0);
}

/**
 * Datagrams a recording could not record (unrecordedOf) are of legs it cannot name. Each one missing moves a count by at
 * most one, either way: a request unseen makes its backends' copies look unsent and their answers unasked, a copy
 * unseen looks lost, an answer unseen one-sided; a second copy or answer unseen hides a duplicate. So every rate is
 * known only to within that many of its whole, both ways, and is judged at both ends: one the gap could carry over a
 * threshold is inconclusive, so that no backend is blamed for what the recording missed, and nothing passes on it.
 * Applied last: it names the uncertainty of a rate that earlier sources widened one way only.
 */
export function judgeWithinUnrecorded(metrics: Metric[], unrecorded: number, reference: string): void {
  if (unrecorded <= 0) return;
  metrics.push(runMetric('recording_unrecorded', null, unrecorded, 'count'));
  const valueOf = (name: MetricName, route: number | null, backend: string | null): number =>
    metrics.find((m) => m.metric === name && m.route === route && m.backend === backend)?.value ?? 0;
  for (const m of metrics) {
    if (m.value === null) continue;
    const parts = m.metric === 'drift' ? ['delivered' as const] : WHOLE_OF[m.metric];
    if (parts === undefined) continue;
    const backend = m.metric === 'drift' ? reference : m.backend;
    const whole = parts.reduce((sum, part) => sum + valueOf(part, m.route, backend), 0);
    // As many of the whole may be missing as were unrecorded: what is left of it is the least the rate is taken of.
    m.uncertainty = (m.uncertainty ?? 0) + (whole > unrecorded ? unrecorded / (whole - unrecorded) : 1);
    m.uncertaintySource = 'unrecorded';
  }
}

/**
 * Where a judged latency percentile can lie, its samples being what a recording that missed datagrams kept: null on a
 * side with no bound (more may be missing than there are samples beyond the percentile's on that side).
 */
export interface LatencyBand {
  metric: MetricName;
  route: number | null;
  backend: string | null;
  low: number | null;
  high: number | null;
}

/** The bands of the run's judged latency percentiles (15-latency-bands.sql), `unrecorded` datagrams having been missed. */
export async function latencyBands(store: Store, runId: number, reference: string, unrecorded: number): Promise<LatencyBand[]> {
  const rows = await store.query(ANALYSIS_STEPS.latencyBands.sql, { run_id: runId, reference, no_backend: NO_BACKEND, unrecorded });
  return rows.map((row) => ({ metric: str(row.metric) as MetricName, route: numOrNull(row.route_port), backend: strOrNull(row.backend), low: numOrNull(row.low), high: numOrNull(row.high) }));
}

/**
 * Each judged latency percentile as known only within its band (latencyBands), added to what the harness's lateness
 * already widened it by, and judged at both ends like the rates: a percentile the missed datagrams could carry over a
 * threshold is inconclusive, so that no backend is blamed for slow samples the recording made and no slow one hidden
 * by it passes. A side with no bound widens it without end.
 */
export function judgeLatenciesWithinUnrecorded(metrics: Metric[], bands: readonly LatencyBand[]): void {
  for (const band of bands) {
    const m = metrics.find((x) => x.metric === band.metric && x.route === band.route && x.backend === band.backend);
    if (m === undefined || m.value === null) continue;
    // What earlier sources widened it by (the harness's lateness, either way) widens the band on both sides.
    const earlier = m.uncertainty ?? 0;
    const low = Math.min(m.value, band.low ?? Number.NEGATIVE_INFINITY) - earlier;
    const high = Math.max(m.value, band.high ?? Number.POSITIVE_INFINITY) + earlier;
    m.bounds = [low, high];
    m.uncertainty = Math.max(m.value - low, high - m.value);
    m.uncertaintySource = 'unrecorded';
  }
}

/** A recording that missed datagrams says so, whatever the rates: its counts are the recording's, not the traffic's. */
export function unrecordedFindings(unrecorded: number): Finding[] {
  if (unrecorded <= 0) return [];
  return [
    {
      severity: 'warning',
      kind: 'coverage',
      metric: 'recording_unrecorded',
      route: null,
      backend: null,
      value: unrecorded,
      message:
        `the recording could not record ${unrecorded.toLocaleString('en-US')} datagrams (a store that fell behind, or the kernel's drops before ` +
        'a capture or a tap read them): every count may be off by as many, either way, and each rate is judged within that',
    },
  ];
}
