import type { SimulatedBackend } from '../backends/simulated-backend.ts';
import type { UdpTap } from '../observe/udp-tap.ts';
import { monotonicNs } from '../core/clock.ts';

/** The longest a run waits for late answers by default: past this a backend is not late, it is not answering. */
const MAX_DEFAULT_DRAIN_MS = 60_000;

/**
 * How long a run waits after its last send for answers still owed: at least the ACK timeout, and three times the
 * slowest answer seen so far (a backend that answered in 1.5 s will answer the last request in about 1.5 s too).
 */
export function defaultDrainMs(ackTimeoutMs: number, backends: readonly SimulatedBackend[], taps: readonly UdpTap[]): number {
  const slowestMs = Math.max(0, ...backends.map((b) => b.slowestAnswerMs), ...taps.map((t) => t.slowestReplyMs));
  return Math.min(MAX_DEFAULT_DRAIN_MS, Math.max(ackTimeoutMs, 3 * slowestMs));
}

/** How often a drain asks the relay what it still holds for its backends. */
const RELAY_QUEUE_POLL_MS = 100;
/**
 * A backend that received something this recently may still be receiving: what a relay has handed the kernel
 * (its send buffers, a slow link's queue) is on its way, and no relay counts it as waiting.
 */
const QUIET_MS = 200;
const QUIET_NS = BigInt(QUIET_MS) * 1_000_000n;

/**
 * Late is not missing: waits until the relay holds nothing more for its backends (where it says, `relayQueued`), every
 * simulated backend has sent the answers it owes and received nothing for a while, and every tapped backend has had
 * three times its slowest answer since the last request went to it, or until `drainMs` has passed (counted again
 * whenever the relay's queue has shrunk, up to a minute in all). Only then may the observers stop; an answer after
 * that is late in the latency metrics, never a one-sided one.
 */
export async function drainBackends(options: { backends: readonly SimulatedBackend[]; taps: readonly UdpTap[]; drainMs: number; relayQueued?: () => Promise<number | null> }): Promise<void> {
  const deadline = Date.now() + options.drainMs;
  const settled = (): boolean =>
    options.backends.every((b) => b.owedAnswers === 0 && monotonicNs() - b.lastReceivedNs >= QUIET_NS) &&
    options.taps.every((t) => Date.now() - t.lastForwardMs >= Math.max(QUIET_MS, 3 * t.slowestReplyMs));
  const { relayQueued } = options;
  let relayAskedMs = 0;
  let relayHolds = relayQueued !== undefined;
  let heldBefore = Infinity;
  // A relay that still sends what it holds is late, not lost: the wait goes on while its queue shrinks, to the most a
  // run waits for answers at all.
  const latest = Date.now() + Math.max(options.drainMs, MAX_DEFAULT_DRAIN_MS);
  let until = deadline;
  while (Date.now() < until) {
    if (relayHolds && relayQueued !== undefined && Date.now() - relayAskedMs >= RELAY_QUEUE_POLL_MS) {
      relayAskedMs = Date.now();
      const held = (await relayQueued()) ?? 0;
      relayHolds = held > 0;
      if (relayHolds && held < heldBefore) until = Math.min(latest, Math.max(until, Date.now() + options.drainMs));
      heldBefore = held;
    }
    // What the relay still sends makes the backends owe answers again: settled only once it holds nothing.
    if (!relayHolds && settled()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
