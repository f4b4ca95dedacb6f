// How early a sending thread's parked wait wakes before its deadline (thread-clock.js): learnt from how late the kernel
// has woken this thread lately, so a quiet machine parks up to 50 µs before each send and a busy one spins more.
// Plain JavaScript, as the sending threads are; the types are checked from JSDoc.

/** Wakes remembered: the margin is 1.5 times the 99th percentile of these, plus SAFETY_NS. */
const KEPT = 256;
const RECOMPUTE_EVERY = 16;
const SAFETY_NS = 20_000;
/** Waits spun for want of margin before the margin is cut by a quarter, so that a busy spell's margin does not outlive it. */
const SPUN_BEFORE_RETRY = 256;
/**
 * The shortest park: below it the CPU given back is little and the tail it costs is not (at 10k pps, 100 µs between
 * sends, parks of tens of µs gave back a fifth of a core and doubled the p99 of a 10-minute run, 92 -> 205 µs).
 */
const SHORTEST_PARK_NS = 250_000;

export class ParkMargin {
  /**
   * @param {number} minNs the least margin (below it the wait is spun anyway)
   * @param {number} maxNs the most: beyond it the machine is too busy for parking to keep time, and the waits spin
   * @param {number} startNs the margin until enough wakes are known
   */
  constructor(minNs, maxNs, startNs) {
    this.minNs = minNs;
    this.maxNs = maxNs;
    this.ns = startNs;
    this.lateNs = new Float64Array(KEPT);
    this.sorted = new Float64Array(KEPT);
    this.count = 0;
    this.spun = 0;
  }

  /**
   * Whether a wait of `waitNs` is parked (it leaves at least SHORTEST_PARK_NS beyond the margin); one that is not counts
   * towards trying a smaller margin again.
   * @param {number} waitNs
   */
  parks(waitNs) {
    if (this.parksAgain(waitNs)) return true;
    if (++this.spun >= SPUN_BEFORE_RETRY) {
      this.spun = 0;
      this.ns = Math.max(this.minNs, this.ns * 0.75);
    }
    return false;
  }

  /**
   * Whether what is left of a wait woken early (by a reply) is parked again: the same rule, without the count.
   * @param {number} waitNs
   */
  parksAgain(waitNs) {
    return waitNs - this.ns >= SHORTEST_PARK_NS;
  }

  /** Waits shorter than this are never parked: spun, whoever spins them. */
  get spunBelowNs() {
    return this.ns + SHORTEST_PARK_NS;
  }

  /**
   * A parked wait that ran its full time woke `lateNs` after it.
   * @param {number} lateNs
   */
  woke(lateNs) {
    this.spun = 0;
    this.lateNs[this.count % KEPT] = lateNs;
    this.count++;
    if (this.count % RECOMPUTE_EVERY !== 0) return;
    const known = Math.min(this.count, KEPT);
    const sorted = this.sorted.subarray(0, known);
    sorted.set(this.lateNs.subarray(0, known));
    sorted.sort();
    const p99 = /** @type {number} */ (sorted[Math.floor(0.99 * (known - 1))]);
    this.ns = Math.min(this.maxNs, Math.max(this.minNs, p99 * 1.5 + SAFETY_NS));
  }
}
