// The clock and the wait of the sending threads (send-worker.js, http/http-send-worker.js, ws/ws-send-worker.js):
// each sends at scheduled times and waits the same way. Plain JavaScript, as the threads are; the types are checked from JSDoc.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ParkMargin } from './park-margin.js';

/** Below this the wait is a spin: yielding to the event loop costs more than the wait. */
const SPIN_BELOW_NS = 50_000;
/** Above this the wait is a timer, woken early by TIMER_EARLY_NS (timers are about 1 ms coarse). */
const TIMER_ABOVE_NS = 2_000_000;
const TIMER_EARLY_NS = 1_500_000;
/** While waiting, the event loop turns (replies are read, with their time) at least this often. */
const POLL_EVERY_NS = 20_000;
/**
 * A parked wait wakes before its deadline by a margin learnt from this thread's wakes (the kernel wakes it 7-11 µs late
 * typically on the project's 2-core machine, but 150-500 µs at the 99th percentile when both cores are busy), and spins
 * the rest; past the largest margin, parking could not keep time, and the waits spin as they did before.
 */
const margin = new ParkMargin(SPIN_BELOW_NS, TIMER_ABOVE_NS / 2, 200_000);
/** The longest piece of a parked wait: the thread's own timers (its replies handed over every 5 ms) run between. */
const LONGEST_PARK_NS = 5_000_000;

/** @typedef {'parked, real-time' | 'parked' | 'spun'} SenderWaits how a sending thread waits between sends */

/** @type {((ns: number) => number) | undefined} */
let park;
/** @type {((on: boolean) => number) | undefined} */
let realtime;
/** Whether this thread is under the real-time policy now (only ever while it parks, and until its next busy send). */
let isRealtime = false;

/**
 * Waits of this thread between sends are parked in the kernel (`park` of the C datagram path's addon at `addonPath`)
 * until shortly before the deadline or until a reply arrives, instead of spun, and the thread waits as a real-time
 * thread (SCHED_FIFO) so that it runs the moment it wakes. Only where the system allows real-time threads (root,
 * CAP_SYS_NICE), unless `always`: an ordinary thread woken on a busy 2-core machine waited 0.6-0.8 ms for a CPU at the
 * 99th percentile at 10k pps (measured), where spinning keeps its CPU. A thread that spins holds a core whole at any
 * rate, and on two cores that starves the process's own main thread (seen: a 10-minute replay whose main thread waited
 * 2.3 s for a CPU). Per thread, and only for a thread with one wait at a time (a park holds the thread, and another
 * wait's deadline could pass meanwhile: the Postgres replay's threads wait for several sessions, and spin); the main
 * thread never parks. Says how the thread's waits go.
 * @param {string} addonPath
 * @param {boolean} always
 * @returns {SenderWaits}
 */
export function parkWaits(addonPath, always) {
  const addon = /** @type {import('../core/udp-io/udp-io.ts').UdpIo} */ (createRequire(import.meta.url)(addonPath));
  const allowed = addon.realtime(true) === 0;
  if (allowed) addon.realtime(false);
  if (!allowed && !always) return 'spun';
  park = (ns) => addon.park(ns);
  if (!allowed) return 'parked';
  realtime = (on) => addon.realtime(on);
  return 'parked, real-time';
}

/**
 * The thread real-time while it waits parked, ordinary once it spins or sends flat out: a real-time thread that never
 * sleeps would hold its core from every ordinary thread, and the kernel then stops it for 50 ms a second to let them
 * run (measured: p99 lateness 35 ms at 10k pps with a real-time spin).
 * @param {boolean} on
 */
function realtimeWhile(on) {
  if (realtime === undefined || on === isRealtime) return;
  isRealtime = on;
  realtime(on);
}

/**
 * Whether this thread would spin a wait of `waitNs` (not park it, nor sleep on a timer): the sending loop may then spin
 * it in C (udp-io.c's sendDue) instead of here. A wait not parked counts towards the margin's retry, as here.
 * @param {number} waitNs
 */
export function spinsWait(waitNs) {
  if (waitNs > TIMER_ABOVE_NS) return false;
  return park === undefined || !margin.parks(waitNs);
}

/** The longest wait this thread spins rather than parks or sleeps, for a run of sends spun in C. */
export function longestSpunWaitNs() {
  return park === undefined ? TIMER_ABOVE_NS : Math.min(TIMER_ABOVE_NS, margin.spunBelowNs);
}

/** Tells the clock that this thread sends without waiting (behind its schedule, or as fast as it can). */
export function sendingFlatOut() {
  realtimeWhile(false);
}

// CLOCK_MONOTONIC ns, as the main thread's process.hrtime.bigint() reads it, without a BigInt per call: the spin-wait
// reads the clock thousands of times a second.
const CLOCK_OFFSET_NS = Number(process.hrtime.bigint()) - performance.now() * 1e6;
export const nowNs = () => performance.now() * 1e6 + CLOCK_OFFSET_NS;
/** A time on this thread's performance clock (ms, as performance entries carry it) on CLOCK_MONOTONIC, in ns. */
export const performanceNs = (/** @type {number} */ ms) => ms * 1e6 + CLOCK_OFFSET_NS;
export const immediate = () => new Promise((resolve) => setImmediate(resolve));
export const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Bytes of short-lived objects, in multiples of the young generation's size, that the UDP sending thread allocates
 * before its clock starts. Its young generation is as large as V8 makes one from the start (send-thread.ts), but its
 * pages are touched only as it fills: on this project's machine, a virtual machine where memory costs 13-19 µs a 4 KB
 * page the first time it is touched, the collection that first went into fresh pages stopped the sending thread for
 * 6-10 ms partway through a run at 50k pps (about 600 packets of a 100,000-packet run late, and the run's max
 * lateness), where collections in memory already touched take 0.1-0.3 ms. Filled twice over before the clock, both of
 * its halves have been through a collection; a full collection then empties the old generation of what the filling
 * promoted. Measured: no stop of 1 ms or more in runs of 100,000 and 500,000 packets at 50k pps (docs/performance.md,
 * 2026-12-01, fifth session), for about 100 ms before the first send.
 */
const WARM_UP_FILLS = 2;
/** Bytes V8 takes for each object of the warm-up (a two-element array). */
const WARM_UP_OBJECT_BYTES = 64;

/** Makes this thread's heap ready before its clock starts (see WARM_UP_FILLS). */
export function warmHeap() {
  // Each object is held in a ring until overwritten 1,024 later, so that the optimiser cannot leave it unallocated.
  const ring = new Array(1024);
  const objects = (WARM_UP_FILLS * youngGenerationBytes()) / WARM_UP_OBJECT_BYTES;
  for (let i = 0; i < objects; i++) ring[i & 1023] = [i, i + 1];
  ring.length = 0;
  collectGarbage();
}

/**
 * A full collection of this thread's heap, now. V8 gives `gc` to contexts made while its flag is set, as Jest's leak
 * detector takes it; the flag is set back at once, so no other context gets it. Where a runtime does not give it, the
 * thread goes on without: its first full collection then comes during the run, later and longer, not wrong.
 */
function collectGarbage() {
  setFlagsFromString('--expose-gc');
  let gc;
  try {
    gc = runInNewContext('typeof gc === "function" ? gc : undefined');
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc === 'function') gc();
}

/** The young generation's size now (V8's new space), in bytes. */
function youngGenerationBytes() {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

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
  let parked = false;
  for (;;) {
    const wait = targetNs - nowNs();
    if (wait <= 0 || stopped()) break;
    if (park !== undefined && (parked ? margin.parksAgain(wait) : margin.parks(wait))) {
      // Woken early by I/O (a reply) or at the margin: the loop turns, then the rest is parked again or spun. A long
      // wait is parked in pieces, so the thread's timers run and a stop is seen.
      realtimeWhile(true);
      parked = true;
      const parkNs = Math.min(wait - margin.ns, LONGEST_PARK_NS);
      const fromNs = nowNs();
      if (park(parkNs) === 0) margin.woke(nowNs() - fromNs - parkNs);
      await immediate();
    } else if (wait > TIMER_ABOVE_NS) await sleep((wait - TIMER_EARLY_NS) / 1e6);
    else if (wait > SPIN_BELOW_NS) {
      // Spin a while between turns of the event loop: a turn (replies read) allocates about 400 bytes (a promise, an
      // immediate), and turning it back to back was a third of the sending thread's collections at 10k pps (measured).
      spinUntil(nowNs() + Math.min(POLL_EVERY_NS, wait - SPIN_BELOW_NS));
      await immediate();
    } else {
      spinUntil(targetNs);
      break;
    }
  }
  if (!parked) realtimeWhile(false);
}

/**
 * A sending thread's schedule: posts `{ type: 'start', startNs }` with the clock started 20 ms ahead (so the first sends
 * are not late by the time it takes to start), then calls `send(sendNo)` at `startNs + offsetsNs[sendNo]` for each in
 * turn until `stopped()`, awaiting it when it returns a promise (a send that must wait for a free connection). However
 * late the plan is, the event loop turns at least every `maxSendsWithoutYield` sends, so writes complete and answers are
 * read. Resolves with `startNs` once every send has been made or the thread was stopped.
 * @param {import('node:worker_threads').MessagePort} port
 * @param {Float64Array} offsetsNs
 * @param {() => boolean} stopped
 * @param {(sendNo: number) => void | Promise<void>} send
 * @param {number} maxSendsWithoutYield
 */
export async function sendOnSchedule(port, offsetsNs, stopped, send, maxSendsWithoutYield = 32) {
  const startNs = nowNs() + 20_000_000;
  port.postMessage({ type: 'start', startNs });
  let sinceYield = 0;
  for (let sendNo = 0; sendNo < offsetsNs.length; sendNo++) {
    if (stopped()) break;
    const due = startNs + /** @type {number} */ (offsetsNs[sendNo]);
    if (due > nowNs()) {
      await waitUntil(due, stopped);
      sinceYield = 0;
      if (stopped()) break;
    }
    const sending = send(sendNo);
    if (sending !== undefined) await sending;
    if (++sinceYield >= maxSendsWithoutYield) {
      sinceYield = 0;
      await immediate();
    }
  }
  return startNs;
}
