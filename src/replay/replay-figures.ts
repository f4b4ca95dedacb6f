import type { LatencyHistogram } from '../core/latency-histogram.ts';
import type { NotAsRecorded, StoredReplayStats, WrittenRunStats } from '../store/run-metadata.ts';
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

/** A p99 lateness this long or longer is explained after the replay, where the sending thread said why. */
const EXPLAINED_P99_US = 1000;

/**
 * Why a replay's sends were late, from what its sending thread counted: kept off its CPU by other threads, stopped by
 * its collector, or waiting for the main thread's batches. Undefined when the p99 is short or nothing was counted.
 */
export function latenessCauses(stats: Pick<StoredReplayStats, 'lateness' | 'senderWaitedForCpu' | 'senderCollections' | 'senderLateBatches'>): string | undefined {
  if (stats.lateness === null || stats.lateness.p99Us < EXPLAINED_P99_US) return undefined;
  const ms = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
  const times = (n: number): string => (n === 1 ? 'once' : `${n} times`);
  const causes: string[] = [];
  const offCpu = stats.senderWaitedForCpu;
  if (offCpu !== undefined && offCpu !== null && offCpu.times > 0) causes.push(`other threads took the sending thread's CPU ${times(offCpu.times)} (${ms(offCpu.ms)} in all)`);
  const collections = stats.senderCollections;
  if (collections !== undefined && collections !== null && collections.count > 0) causes.push(`its collector stopped it ${times(collections.count)} (${ms(collections.totalMs)} in all, the longest ${ms(collections.maxMs)})`);
  const late = stats.senderLateBatches;
  if (late !== undefined && late !== null && late.times > 0) causes.push(`the main thread handed it ${late.times} ${late.times === 1 ? 'batch' : 'batches'} late (${ms(late.ms)} in all)`);
  return causes.length === 0 ? undefined : `late sends: ${causes.join('; ')}`;
}
