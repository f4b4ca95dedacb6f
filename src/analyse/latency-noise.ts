/**
 * A gauge of the machine's own noise for latencies compared across runs. Two runs taken one after the other on a
 * shared machine differ by whatever else the machine did meanwhile; nothing in either run's p95 says how much. The
 * gap between the p95 of a run's first half and its second half (by send time) is that drift within one run, where
 * the system under test did not change: a difference between two runs is known only to within both runs' gaps.
 * On a quiet machine the gaps are a few milliseconds and change nothing; on a loaded one they keep a healthy shadow
 * from being blamed for the machine's stalls, and a real slowdown from hiding in them (both seen: +1,029 ms put on a
 * healthy shadow, and a proxy's 300 ms wait for its shadow missed, under two busy loops on two cores).
 */

/** How far the p95 moved between the halves of one run, or null when a half had no answers. */
export function halfGap(firstHalfP95: number | null, secondHalfP95: number | null): number | null {
  return firstHalfP95 === null || secondHalfP95 === null ? null : Math.abs(firstHalfP95 - secondHalfP95);
}

/**
 * The uncertainty of a difference between runs: each run's drift, combined as independent errors (the root of the sum
 * of their squares). Where sampling is the only noise, a half-run gap is about twice the standard error of the run's
 * p95, so this is about two standard errors of the difference; drift across the run widens it as it should. A run
 * whose drift is unknown (a half without answers, or a report.json baseline) adds nothing.
 */
export function comparisonUncertainty(...gaps: readonly (number | null | undefined)[]): number {
  return Math.sqrt(gaps.reduce<number>((sum, gap) => sum + (gap ?? 0) ** 2, 0));
}
