import { quantile } from '../core/stats.ts';
import type { WrittenRunStats } from '../store/run-metadata.ts';
import type { ReplayPlan } from './replay-plan.ts';

export interface Lateness {
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** Lateness figures (actual minus scheduled send time, µs) of a replay's sends. */
export function latenessOf(lateUs: readonly number[]): Lateness {
  return { p50Us: quantile(lateUs, 0.5) ?? 0, p99Us: quantile(lateUs, 0.99) ?? 0, maxUs: lateUs.reduce((max, v) => Math.max(max, v), 0) };
}

/**
 * An HTTP or frame replay's counts as a run stores a replay's: a request that got no answer is a send error, an answer
 * is what a UDP replay calls an ACK.
 */
export function storedReplayStats(stats: { planned: number; sent: number; errors: number; answered: number; lateness: Lateness; achievedRate: number | null }, plan: ReplayPlan): WrittenRunStats {
  return {
    planned: stats.planned,
    sent: stats.sent,
    sendErrors: stats.errors,
    sendErrorsByKind: {},
    acks: stats.answered,
    askedRatePps: plan.pace.kind === 'rate' ? plan.pace.ratePps : null,
    achievedRatePps: stats.achievedRate,
    lateness: stats.lateness,
  };
}
