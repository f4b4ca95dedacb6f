import type { SimulatedBackend } from '../backends/simulated-backend.ts';
import type { UdpTap } from '../observe/udp-tap.ts';

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

/**
 * Late is not missing: waits until every simulated backend has sent the answers it owes and every tapped backend has
 * had three times its slowest answer since the last request went to it, or until `drainMs` has passed. Only then may
 * the observers stop; an answer after that is late in the latency metrics, never a one-sided one.
 */
export async function drainBackends(options: { backends: readonly SimulatedBackend[]; taps: readonly UdpTap[]; drainMs: number }): Promise<void> {
  const deadline = Date.now() + options.drainMs;
  const settled = (): boolean =>
    options.backends.every((b) => b.owedAnswers === 0) && options.taps.every((t) => Date.now() - t.lastForwardMs >= Math.max(200, 3 * t.slowestReplyMs));
  while (!settled() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
