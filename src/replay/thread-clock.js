// The clock and the wait of the sending threads (send-worker.js, http/http-send-worker.js): both send at scheduled
// times and wait the same way. Plain JavaScript, as the threads are; the types are checked from JSDoc.
import { performance } from 'node:perf_hooks';

/** Below this the wait is a spin: yielding to the event loop costs more than the wait. */
const SPIN_BELOW_NS = 50_000;
/** Above this the wait is a timer, woken early by TIMER_EARLY_NS (timers are about 1 ms coarse). */
const TIMER_ABOVE_NS = 2_000_000;
const TIMER_EARLY_NS = 1_500_000;

// CLOCK_MONOTONIC ns, as the main thread's process.hrtime.bigint() reads it, without a BigInt per call: the spin-wait
// reads the clock thousands of times a second.
const CLOCK_OFFSET_NS = Number(process.hrtime.bigint()) - performance.now() * 1e6;
export const nowNs = () => performance.now() * 1e6 + CLOCK_OFFSET_NS;
export const immediate = () => new Promise((resolve) => setImmediate(resolve));
export const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves at `targetNs` or as soon after as the thread can (or at once when `stopped()`); the last tens of
 * microseconds are spun.
 * @param {number} targetNs
 * @param {() => boolean} stopped
 */
export async function waitUntil(targetNs, stopped) {
  for (;;) {
    const wait = targetNs - nowNs();
    if (wait <= 0 || stopped()) return;
    if (wait > TIMER_ABOVE_NS) await sleep((wait - TIMER_EARLY_NS) / 1e6);
    else if (wait > SPIN_BELOW_NS) await immediate();
    else {
      while (nowNs() < targetNs);
      return;
    }
  }
}
