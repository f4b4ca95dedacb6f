import type { LatencyHistogram } from '../core/latency-histogram.ts';
import type { NotAsRecorded, WrittenRunStats } from '../store/run-metadata.ts';
import type { ReplayPlan } from './replay-plan.ts';

export interface Lateness {
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/**
 * Lateness figures (actual minus scheduled send time, µs) of a replay's sends, from a histogram: a list of every send's
 * lateness grew with the run (a 10-minute replay at 10k pps is 6M of them), the histogram does not.
 */
export function latenessOf(lateNs: LatencyHistogram): Lateness {
  return { p50Us: lateNs.quantileNs(0.5) / 1000, p99Us: lateNs.quantileNs(0.99) / 1000, maxUs: lateNs.maxNs / 1000 };
}

/**
 * An HTTP or frame replay's counts as a run stores a replay's: a request that got no answer is a send error, an answer
 * is what a UDP replay calls an ACK.
 */
export function storedReplayStats(
  stats: { planned: number; sent: number; errors: number; answered: number; lateness: Lateness; achievedRate: number | null; notAsRecorded?: readonly NotAsRecorded[] },
  plan: ReplayPlan,
): WrittenRunStats {
  return {
    planned: stats.planned,
    sent: stats.sent,
    sendErrors: stats.errors,
    sendErrorsByKind: {},
    acks: stats.answered,
    askedRatePps: plan.pace.kind === 'rate' ? plan.pace.ratePps : null,
    achievedRatePps: stats.achievedRate,
    lateness: stats.lateness,
    notAsRecorded: [...(stats.notAsRecorded ?? [])],
  };
}
