import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** How late this process's event loop ran while it timestamped a run's legs, in ms: its p99 and its worst. */
export interface HarnessLag {
  p99Ms: number;
  maxMs: number;
}

/** The sampling timer's period; every sample is the period plus how late it fired. */
const RESOLUTION_MS = 10;

/**
 * The harness's own blind spot, measured. Taps, simulated backends and the HTTP and Postgres clients stamp a packet
 * when their callback runs, on this process's event loop: while the loop is held (a DuckDB commit, the collector, a
 * machine too busy to schedule it) every stamp is late by up to that long, and a latency measured between two stamps
 * is wrong by as much either way. A backend's p95 is judged against a threshold only to within that (judge.ts): a
 * healthy backend is never blamed for the harness's stalls.
 */
export class HarnessLagGauge {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private result: HarnessLag | null | undefined;

  constructor() {
    this.histogram.enable();
  }

  /** Stops measuring (once); null when the run was too short to take a sample. */
  stop(): HarnessLag | null {
    if (this.result !== undefined) return this.result;
    this.histogram.disable();
    const lateMs = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    this.result = this.histogram.count === 0 ? null : { p99Ms: lateMs(this.histogram.percentile(99)), maxMs: lateMs(this.histogram.max) };
    return this.result;
  }
}
