import type { SimulatedBackend } from '../backends/simulated-backend.ts';
import type { ReplyPairing } from '../capture/record/reply-pairing.ts';
import type { UdpTap } from '../observe/udp-tap.ts';
import { monotonicNs } from '../core/clock.ts';

/** A recording tap in front of an external backend, and its pairing of answers with requests (what is owed). */
export interface TappedBackend {
  tap: Pick<UdpTap, 'lastForwardMs' | 'slowestReplyMs'>;
  pairing: Pick<ReplyPairing, 'owedAnswers' | 'answersWanted' | 'slowestAnswerMs'>;
}

/** The longest a run waits for late answers by default: past this a backend is not late, it is not answering. */
const MAX_DEFAULT_DRAIN_MS = 60_000;

/**
 * How long a run waits after its last send for answers still owed: at least the ACK timeout, and three times the
 * slowest answer seen so far (a backend that answered in 1.5 s will answer the last request in about 1.5 s too).
 */
export function defaultDrainMs(ackTimeoutMs: number, backends: readonly SimulatedBackend[], taps: readonly TappedBackend[]): number {
  const slowestMs = Math.max(0, ...backends.map((b) => b.slowestAnswerMs), ...taps.map(slowestOfTap));
  return Math.min(MAX_DEFAULT_DRAIN_MS, Math.max(ackTimeoutMs, 3 * slowestMs));
}

/** A tapped backend's slowest answer: as paired with its request, or (a protocol without match keys) since a forward. */
function slowestOfTap(t: TappedBackend): number {
  return Math.max(t.tap.slowestReplyMs, t.pairing.slowestAnswerMs);
}

/**
 * A tapped backend has answered all it owes once every request that wanted an answer has one and nothing more has gone
 * to it for a while. Where the tap could not tie answers to requests (no match keys), what is owed is unknown and is
 * estimated: three times its slowest answer since the last forward (short of the answer time with several in flight).
 */
function tapSettled(t: TappedBackend, nowMs: number): boolean {
  const quietMs = nowMs - t.tap.lastForwardMs;
  if (t.pairing.answersWanted > 0) return t.pairing.owedAnswers <= 0 && quietMs >= QUIET_MS;
  return quietMs >= Math.max(QUIET_MS, 3 * slowestOfTap(t));
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
 * simulated backend has sent the answers it owes and received nothing for a while, and every tapped backend has
 * answered every request that wants an answer (tapSettled), or until `drainMs` has passed, counted again whenever the
 * relay's queue has shrunk or an owed answer came, up to a minute in all. Only then may the observers stop: an answer
 * they do not see is judged missing, so the wait must outlast every answer that is merely late.
 */
export async function drainBackends(options: { backends: readonly SimulatedBackend[]; taps: readonly TappedBackend[]; drainMs: number; relayQueued?: () => Promise<number | null> }): Promise<void> {
  const deadline = Date.now() + options.drainMs;
  const settled = (): boolean =>
    options.backends.every((b) => b.owedAnswers === 0 && monotonicNs() - b.lastReceivedNs >= QUIET_NS) &&
    options.taps.every((t) => tapSettled(t, Date.now()));
  const { relayQueued } = options;
  let relayAskedMs = 0;
  let relayHolds = relayQueued !== undefined;
  let heldBefore = Infinity;
  // A relay that still sends what it holds is late, not lost: the wait goes on while its queue shrinks, to the most a
  // run waits for answers at all.
  const latest = Date.now() + Math.max(options.drainMs, MAX_DEFAULT_DRAIN_MS);
  let until = deadline;
  // So is a backend whose answers still come: each answer to a request it owed counts the wait again, to the same end.
  const owed = (): number => options.backends.reduce((sum, b) => sum + b.owedAnswers, 0) + options.taps.reduce((sum, t) => sum + Math.max(0, t.pairing.owedAnswers), 0);
  let owedBefore = owed();
  while (Date.now() < until) {
    const owedNow = owed();
    if (owedNow < owedBefore) until = Math.min(latest, Math.max(until, Date.now() + options.drainMs));
    owedBefore = owedNow;
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
