import type { StoredReplayStats } from '../store/run-metadata.ts';
import type { Metric } from './analysis.ts';
import type { MetricName } from './metric-names.ts';

/** How closely the replayer kept to its plan, from its own counts: every family's run has them. */
export function replayMetrics(stats: StoredReplayStats | null): Metric[] {
  if (stats === null || stats.lateness === null) return [];
  const metric = (name: MetricName, value: number | null, unit: Metric['unit']): Metric => ({ metric: name, route: null, backend: null, value, unit, status: null });
  const asked = stats.askedRatePps;
  const achieved = stats.achievedRatePps;
  return [
    metric('replay_lateness_p50_us', stats.lateness.p50Us, 'us'),
    metric('replay_lateness_p99_us', stats.lateness.p99Us, 'us'),
    metric('replay_lateness_max_us', stats.lateness.maxUs, 'us'),
    metric('replay_achieved_rate_pps', achieved, 'pps'),
    metric('replay_asked_rate_pps', asked, 'pps'),
    metric('replay_rate_share', asked !== null && achieved !== null && asked > 0 ? achieved / asked : null, 'ratio'),
    metric('replay_send_errors', stats.sendErrors, 'count'),
  ];
}
