// The clock and the wait of the sending threads (send-worker.js, http/http-send-worker.js): both send at scheduled
// times and wait the same way. Plain JavaScript, as the threads are; the types are checked from JSDoc.
import { performance } from 'node:perf_hooks';

/** Below this the wait is a spin: yielding to the event loop costs more than the wait. */
const SPIN_BELOW_NS = 50_000;
/** Above this the wait is a timer, woken early by TIMER_EARLY_NS (timers are about 1 ms coarse). */
const TIMER_ABOVE_NS = 2_000_000;
const TIMER_EARLY_NS = 1_500_000;
/** While waiting, the event loop turns (replies are read, with their time) at least this often. */
const POLL_EVERY_NS = 20_000;

// CLOCK_MONOTONIC ns, as the main thread's process.hrtime.bigint() reads it, without a BigInt per call: the spin-wait
// reads the clock thousands of times a second.
const CLOCK_OFFSET_NS = Number(process.hrtime.bigint()) - performance.now() * 1e6;
export const nowNs = () => performance.now() * 1e6 + CLOCK_OFFSET_NS;
/** A time on this thread's performance clock (ms, as performance entries carry it) on CLOCK_MONOTONIC, in ns. */
export const performanceNs = (/** @type {number} */ ms) => ms * 1e6 + CLOCK_OFFSET_NS;
export const immediate = () => new Promise((resolve) => setImmediate(resolve));
export const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Read by the spin between its looks at the clock: an atomic load is not optimised away. */
const SPIN_CELL = new Int32Array(new SharedArrayBuffer(4));
/** Loads between two looks at the clock: about 4.5 µs of them far from the target, about 0.15 µs near it. */
const SPIN_FAR = 1024;
const SPIN_NEAR = 32;
const FAR_NS = 6_000;

/**
 * Returns at `targetNs` (within about 0.2 µs). The clock is read between runs of atomic loads, not back to back: each
 * read of performance.now() allocates, and a bare spin on it ran the collector 440 times a second (measured), each
 * collection a stall of the sends that follow.
 * @param {number} targetNs
 */
export function spinUntil(targetNs) {
  for (let left = targetNs - nowNs(); left > 0; left = targetNs - nowNs()) {
    const loads = left > FAR_NS ? SPIN_FAR : SPIN_NEAR;
    for (let i = 0; i < loads; i++) Atomics.load(SPIN_CELL, 0);
  }
}

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
    else if (wait > SPIN_BELOW_NS) {
      // Spin a while between turns of the event loop: a turn (replies read) allocates about 400 bytes (a promise, an
      // immediate), and turning it back to back was a third of the sending thread's collections at 10k pps (measured).
      spinUntil(nowNs() + Math.min(POLL_EVERY_NS, wait - SPIN_BELOW_NS));
      await immediate();
    } else {
      spinUntil(targetNs);
      return;
    }
  }
}
