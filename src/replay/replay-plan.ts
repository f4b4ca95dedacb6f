
/** How fast to replay: the capture's own timing (scaled), a fixed rate, a ramp between rates, or as fast as possible. */
export type Pace =
  | { kind: 'original'; speed: number }
  | { kind: 'rate'; ratePps: number }
  | { kind: 'ramp'; fromPps: number; toPps: number; overMs: number }
  | { kind: 'max' };

export interface ReplayPlan {
  pace: Pace;
  /** Times the capture is replayed; each loop is shifted by the capture's span. */
  loops: number;
  /** Stop when the plan reaches this offset (ms). */
  durationMs: number | undefined;
  /** Share of devices replayed (all packets of a chosen device); 1 for all. */
  sample: number;
  /** Seed of the device sample. */
  seed: number;
}

const NS_PER_SECOND = 1e9;

/** What a plan asks for, in words, for reports. */
export function describePace(pace: Pace): string {
  switch (pace.kind) {
    case 'original':
      return `original timing x${pace.speed}`;
    case 'rate':
      return `${pace.ratePps} pps`;
    case 'ramp':
      return `ramp ${pace.fromPps}..${pace.toPps} pps over ${pace.overMs / 1000} s`;
    case 'max':
      return 'as fast as possible';
  }
}

/**
 * The highest rate a plan asks for (pps): a fixed rate, a ramp's faster end, or at original timing the capture's rate
 * scaled by its speed: its mean, or where the caller counted it (`busiestSecondPackets`, the most packets any second
 * of the replay holds, busiestWindowPackets) the rate of its busiest second if that is higher. Undefined as fast as
 * possible, or when the capture has no span to scale.
 */
export function plannedPeakPps(pace: Pace, packetsPerLoop: number, captureSpanNs: number, busiestSecondPackets?: number): number | undefined {
  switch (pace.kind) {
    case 'rate':
      return pace.ratePps;
    case 'ramp':
      return Math.max(pace.fromPps, pace.toPps);
    case 'original': {
      if (captureSpanNs <= 0 || packetsPerLoop <= 1) return undefined;
      const mean = ((packetsPerLoop - 1) * NS_PER_SECOND * pace.speed) / captureSpanNs;
      return Math.max(mean, busiestSecondPackets ?? 0);
    }
    case 'max':
      return undefined;
  }
}

/** The span of the capture a second of the replay covers at original timing `speed`. */
export function captureNsPerReplaySecond(speed: number): number {
  return NS_PER_SECOND * speed;
}

/**
 * Where each packet falls in time, as an offset (ns) from the start of the replay. `captureOffsetNs` is the packet's
 * time in the capture minus the capture's first packet; `index` counts packets sent so far across loops.
 */
export class Schedule {
  private readonly loopSpanNs: number;

  constructor(
    private readonly pace: Pace,
    captureSpanNs: number,
    packetsPerLoop: number,
  ) {
    // A loop follows the last packet by one mean gap, so loop boundaries keep the capture's rhythm.
    const meanGapNs = packetsPerLoop > 1 ? captureSpanNs / (packetsPerLoop - 1) : 0;
    this.loopSpanNs = captureSpanNs + meanGapNs;
  }

  /** Offset of a packet from the start, or undefined for `max` (send at once). */
  offsetNs(index: number, loop: number, captureOffsetNs: number): number | undefined {
    const pace = this.pace;
    switch (pace.kind) {
      case 'original':
        return (loop * this.loopSpanNs + captureOffsetNs) / pace.speed;
      case 'rate':
        return (index * NS_PER_SECOND) / pace.ratePps;
      case 'ramp':
        return rampOffsetNs(pace, index);
      case 'max':
        return undefined;
    }
  }

  /** The rate this plan asks for at an offset (pps), for comparing with the achieved one; undefined for original timing. */
  askedRateAt(offsetMs: number): number | undefined {
    const pace = this.pace;
    if (pace.kind === 'rate') return pace.ratePps;
    if (pace.kind === 'ramp') return pace.fromPps + ((pace.toPps - pace.fromPps) * Math.min(offsetMs, pace.overMs)) / pace.overMs;
    return undefined;
  }
}

/**
 * The time at which the n-th packet of a linear ramp is due: packets sent by time t are
 * N(t) = r0 t + (r1 - r0) t^2 / 2T, solved for t; after T the ramp holds its end rate.
 */
function rampOffsetNs(pace: Extract<Pace, { kind: 'ramp' }>, index: number): number {
  const r0 = pace.fromPps;
  const r1 = pace.toPps;
  const overSec = pace.overMs / 1000;
  const packetsInRamp = ((r0 + r1) / 2) * overSec;
  if (index >= packetsInRamp) return (overSec + (index - packetsInRamp) / r1) * NS_PER_SECOND;
  const slope = (r1 - r0) / overSec;
  if (Math.abs(slope) < 1e-9) return (index / r0) * NS_PER_SECOND;
  const tSec = (-r0 + Math.sqrt(r0 * r0 + 2 * slope * index)) / slope;
  return tSec * NS_PER_SECOND;
}
