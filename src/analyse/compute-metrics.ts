import { num, numOrNull, str, type Row, type Store } from '../store/store.ts';
import { NO_BACKEND } from './correlate-run.ts';
import type { Metric, MetricUnit } from './analysis.ts';
import { ANALYSIS_STEPS, type AnalysisStep } from './analysis-steps.ts';
import type { MetricName } from './metric-names.ts';
import { StepClock, stepName } from './step-clock.ts';

const S = ANALYSIS_STEPS;

type Push = (metric: MetricName, value: number | null, unit: MetricUnit) => void;

function pusher(metrics: Metric[], route: number | null, backend: string | null): Push {
  return (metric, value, unit) => metrics.push({ metric, route, backend, value, unit, status: null });
}

const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);

/**
 * Computes every metric of a correlated run (see correlateRun): delivery, latency and ACKs per route and backend and
 * per backend overall; drift and ACK parity of each backend against the reference; what the devices saw.
 */
export async function computeMetrics(store: Store, runId: number, reference: string, startNs: bigint, clock = new StepClock()): Promise<Metric[]> {
  const params = { run_id: runId, reference, no_backend: NO_BACKEND, start_ns: startNs };
  const query = (step: AnalysisStep, more: Record<string, boolean> = {}): Promise<Row[]> =>
    clock.time(stepName(step.file), () => store.query(step.sql, { ...params, ...more }));
  const metrics: Metric[] = [];
  const perRoute = await query(S.backendMetrics);
  const overall = await overallLatency(perRoute, () => query(S.backendOverall));
  const delivered = new Map<string, number>();
  const totals = new Map<string, Row>();
  for (const row of perRoute) {
    const backend = str(row.backend);
    delivered.set(`${num(row.route_port)}|${backend}`, num(row.delivered));
    const total = totals.get(backend) ?? {};
    for (const key of ['sent', 'delivered', 'lost', 'lost_apart', 'duplicated_route', 'extra_copies_route', 'reordered', 'ack_expected', 'acked', 'naks', 'extra_acks', 'ack_compared', 'ack_mismatched', 'one_sided_route']) {
      total[key] = num(total[key]) + num(row[key]);
    }
    totals.set(backend, total);
  }
  for (const row of perRoute) addBackendMetrics(pusher(metrics, num(row.route_port), str(row.backend)), row, row);
  for (const [backend, total] of totals) addBackendMetrics(pusher(metrics, null, backend), total, overall.get(backend) ?? {});
  const unreached = unreachedByRoute(perRoute);
  const unaskedRows = await query(S.unaskedAckCounts);
  const unasked = new Map(unaskedRows.map((row) => [numOrNull(row.route_port), num(row.unasked)]));
  const junk = new Map(unaskedRows.map((row) => [numOrNull(row.route_port), num(row.junk)]));
  addDriftMetrics(metrics, perRoute, totals, delivered, reference);
  for (const row of await deviceView(await query(S.deviceMetrics, { per_route: true }), () => query(S.deviceMetrics, { per_route: false }))) {
    const route = numOrNull(row.route_port);
    const push = pusher(metrics, route, null);
    push('sent', num(row.sent), 'count');
    // Judged where the devices' packets are counted: the share of what they sent.
    const lostEverywhere = route === null ? sum(unreached.values()) : unreached.get(route);
    if (lostEverywhere !== undefined) {
      push('unreached', lostEverywhere, 'count');
      push('unreached_rate', ratio(lostEverywhere, num(row.sent)), 'ratio');
    }
    push('device_ack_expected', num(row.ack_expected), 'count');
    push('device_acks', num(row.device_acked), 'count');
    push('device_ack_rate', ratio(num(row.device_acked), num(row.ack_expected)), 'ratio');
    push('device_unrelayed_acks', num(row.unrelayed), 'count');
    push('device_unrelayed_answer_p50_ms', numOrNull(row.unrelayed_answer_p50), 'ms');
    push('device_ack_compared', num(row.device_compared), 'count');
    push('device_ack_mismatches', num(row.device_mismatched), 'count');
    push('device_ack_mismatch_rate', ratio(num(row.device_mismatched), num(row.device_compared)), 'ratio');
    // ACKs beyond what a device asked for, on the route the relay handed them out on.
    const beyond = route === null ? (sum(unasked.values()) ?? 0) : (unasked.get(route) ?? 0);
    push('unasked_acks', beyond, 'count');
    push('unasked_ack_rate', ratio(beyond, num(row.device_acked) + beyond), 'ratio');
    // And datagrams that are no answer at all, that no backend sent.
    const made = route === null ? (sum(junk.values()) ?? 0) : (junk.get(route) ?? 0);
    push('junk_to_devices', made, 'count');
    push('junk_to_device_rate', ratio(made, num(row.device_acked) + beyond + made), 'ratio');
    push('round_trip_p50_ms', numOrNull(row.rtt_p50), 'ms');
    push('round_trip_p95_ms', numOrNull(row.rtt_p95), 'ms');
    push('round_trip_p99_ms', numOrNull(row.rtt_p99), 'ms');
    push('round_trip_max_ms', numOrNull(row.rtt_max), 'ms');
    push('relay_added_latency_p50_ms', numOrNull(row.relay_added_p50), 'ms');
    push('relay_added_latency_p95_ms', numOrNull(row.relay_added_p95), 'ms');
    push('relay_added_latency_p99_ms', numOrNull(row.relay_added_p99), 'ms');
  }
  await clock.time(stepName(S.driftWindows.file), () => store.exec(S.driftWindows.sql, params));
  metrics.push(...worstWindowDrift(await query(S.worstWindowDrift)));
  return metrics;
}

/**
 * Each backend's latency percentiles over all its routes (09). A backend whose rows lie on one route has them in its
 * route's row already (08 groups the same rows): 09 sorts the latencies again only where some backend spans routes,
 * which was a twentieth of a single-route run's analysis.
 */
async function overallLatency(perRoute: readonly Row[], acrossRoutes: () => Promise<Row[]>): Promise<Map<string, Row>> {
  const routes = new Map<string, number>();
  for (const row of perRoute) routes.set(str(row.backend), (routes.get(str(row.backend)) ?? 0) + 1);
  if ([...routes.values()].some((n) => n > 1)) return new Map((await acrossRoutes()).map((row) => [str(row.backend), row]));
  return new Map(perRoute.map((row) => [str(row.backend), row]));
}

/**
 * What the devices saw per route, then over all routes: a run on one route has its route's row twice. With none (nothing
 * sent) the run's row is still asked for, all zeros, so that a run that sent nothing says so.
 */
async function deviceView(perRoute: readonly Row[], acrossRoutes: () => Promise<Row[]>): Promise<Row[]> {
  if (perRoute.length === 1) return [...perRoute, ...perRoute.map((row) => ({ ...row, route_port: null }))];
  return [...perRoute, ...(await acrossRoutes())];
}

function addBackendMetrics(push: Push, counts: Row, latency: Row): void {
  const sent = num(counts.sent);
  push('sent', sent, 'count');
  push('delivered', num(counts.delivered), 'count');
  push('lost', num(counts.lost), 'count');
  push('lost_apart', num(counts.lost_apart), 'count');
  push('duplicated', num(counts.duplicated_route), 'count');
  // Copies beyond what the devices sent were made on the way (the receipts are seen in front of the backend): judged.
  push('extra_copies', num(counts.extra_copies_route), 'count');
  push('extra_copy_rate', ratio(num(counts.extra_copies_route), num(counts.delivered)), 'ratio');
  // The rest of what came beyond the matched receipts had bytes no device sent in the run.
  const unsent = num(counts.duplicated_route) - num(counts.extra_copies_route);
  push('unsent_payloads', unsent, 'count');
  push('unsent_payload_rate', ratio(unsent, num(counts.delivered) + num(counts.duplicated_route)), 'ratio');
  push('reordered', num(counts.reordered), 'count');
  // Reordered before it (its receipts are seen in front of it): the relay's or the network's, judged as the relay's.
  push('reorder_rate', ratio(num(counts.reordered), num(counts.delivered)), 'ratio');
  // What no backend received is the relay's (unreached_rate): a backend's drop rate is what it lost that another got.
  push('drop_rate', ratio(num(counts.lost_apart), sent), 'ratio');
  push('forward_latency_p50_ms', numOrNull(latency.forward_p50), 'ms');
  push('forward_latency_p95_ms', numOrNull(latency.forward_p95), 'ms');
  push('forward_latency_p99_ms', numOrNull(latency.forward_p99), 'ms');
  push('forward_latency_max_ms', numOrNull(latency.forward_max), 'ms');
  push('ack_expected', num(counts.ack_expected), 'count');
  push('acked', num(counts.acked), 'count');
  push('naks', num(counts.naks), 'count');
  // Answers beyond the requests received with their key (05a): a device told twice what it was told once.
  push('extra_acks', num(counts.extra_acks), 'count');
  push('extra_ack_rate', ratio(num(counts.extra_acks), num(counts.acked) + num(counts.extra_acks)), 'ratio');
  push('ack_latency_p50_ms', numOrNull(latency.ack_p50), 'ms');
  push('ack_latency_p95_ms', numOrNull(latency.ack_p95), 'ms');
  push('ack_latency_p99_ms', numOrNull(latency.ack_p99), 'ms');
  push('ack_latency_max_ms', numOrNull(latency.ack_max), 'ms');
  const compared = num(counts.ack_compared);
  if (compared > 0 || num(counts.one_sided_route) > 0) {
    push('ack_compared', compared, 'count');
    push('ack_mismatches', num(counts.ack_mismatched), 'count');
    // A request only one backend answered is a mismatch too: parity is about what devices would be told.
    const oneSided = num(counts.one_sided_route);
    push('ack_mismatch_rate', ratio(num(counts.ack_mismatched) + oneSided, compared + oneSided), 'ratio');
    push('one_sided_acks', num(counts.one_sided_route), 'count');
  }
}

/** The packets that reached none of their route's backends, by route: only routes two or more backends carry (08). */
function unreachedByRoute(perRoute: readonly Row[]): Map<number, number> {
  return new Map(perRoute.filter((row) => num(row.route_backends) >= 2).map((row) => [num(row.route_port), num(row.unreached)]));
}

const sum = (values: Iterable<number>): number | undefined => {
  let total: number | undefined;
  for (const value of values) total = (total ?? 0) + value;
  return total;
};

/** Drift: how far a backend's delivered count is from the reference backend's, as a share of the reference's. */
function addDriftMetrics(metrics: Metric[], perRoute: Row[], totals: Map<string, Row>, delivered: Map<string, number>, reference: string): void {
  for (const row of perRoute) {
    const backend = str(row.backend);
    if (backend === reference) continue;
    const route = num(row.route_port);
    const referenceDelivered = delivered.get(`${route}|${reference}`) ?? 0;
    pusher(metrics, route, backend)('drift', ratio(Math.abs(num(row.delivered) - referenceDelivered), referenceDelivered), 'ratio');
  }
  const referenceTotal = num(totals.get(reference)?.delivered);
  for (const [backend, total] of totals) {
    if (backend === reference) continue;
    pusher(metrics, null, backend)('drift', ratio(Math.abs(num(total.delivered) - referenceTotal), referenceTotal), 'ratio');
  }
}

/** The worst 10 s window of drift per backend: a gap (a backend down for a while) shows here when overall hides it. */
function worstWindowDrift(rows: readonly Row[]): Metric[] {
  return rows.map((row) => ({ metric: 'drift_max_window', route: null, backend: str(row.backend), value: numOrNull(row.worst), unit: 'ratio', status: null }));
}
