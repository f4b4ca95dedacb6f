import { seededRandom } from '../core/random.ts';

/** The misbehaviour a simulated backend is asked for. Rates are fractions (0.001 = 0.1%). */
export interface FaultPlan {
  /** Delay before each ACK. */
  latencyMs: number;
  /** Uniform extra delay in [-jitter, +jitter], never below zero in total. */
  jitterMs: number;
  /** Share of packets lost on the way in: never seen, never answered. */
  lossRate: number;
  /** Share of requests answered with a NAK instead of an ACK. */
  nakRate: number;
  /** Share of ACKs sent twice. */
  duplicateAckRate: number;
  /**
   * Share of requests after which it also answers one it never received (the request's bytes with their last byte
   * changed): a backend that tells devices what they did not ask.
   */
  phantomAckRate: number;
  /** Application version a CalAmp server reports in its ACKs. */
  ackVersion: readonly [number, number, number];
  /** After this long, packets still arrive but nothing is received or answered (a black hole). */
  blackholeAfterMs: number | undefined;
  /** After this long, the backend closes its socket, as a crashed server does. */
  crashAfterMs: number | undefined;
  /** Seed of the fault dice, so a scenario's faults repeat exactly. */
  seed: number;
}

export const NO_FAULTS: FaultPlan = {
  latencyMs: 0,
  jitterMs: 0,
  lossRate: 0,
  nakRate: 0,
  duplicateAckRate: 0,
  phantomAckRate: 0,
  ackVersion: [0, 0, 0],
  blackholeAfterMs: undefined,
  crashAfterMs: undefined,
  seed: 1,
};

/** NAK reason a simulated CalAmp server gives (any non-zero value is a NAK). */
export const SIMULATED_NAK_REASON = 1;

/** Rolls the dice of a fault plan: each call decides one packet's fate. */
export class FaultDice {
  private readonly random: () => number;

  constructor(private readonly plan: FaultPlan) {
    this.random = seededRandom(plan.seed);
  }

  lose(): boolean {
    return this.plan.lossRate > 0 && this.random() < this.plan.lossRate;
  }

  nak(): boolean {
    return this.plan.nakRate > 0 && this.random() < this.plan.nakRate;
  }

  duplicate(): boolean {
    return this.plan.duplicateAckRate > 0 && this.random() < this.plan.duplicateAckRate;
  }

  phantom(): boolean {
    return this.plan.phantomAckRate > 0 && this.random() < this.plan.phantomAckRate;
  }

  delayMs(): number {
    const { latencyMs, jitterMs } = this.plan;
    if (jitterMs === 0) return latencyMs;
    return Math.max(0, latencyMs + (this.random() * 2 - 1) * jitterMs);
  }
}
