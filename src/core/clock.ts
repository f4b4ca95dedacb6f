import { performance } from 'node:perf_hooks';

/**
 * The harness's clock: CLOCK_MONOTONIC nanoseconds (`process.hrtime.bigint()`), comparable across processes on one
 * host, so a replayer, a relay and backends in different processes time the same packet on one scale. Wall-clock
 * capture times are a different clock domain and are never subtracted from these.
 */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}

/**
 * This host's wall clock minus its monotonic clock, in ns (to a few µs): what turns this host's monotonic times into
 * wall-clock times comparable with another host's, as far as the two hosts' clocks agree (NTP, PTP).
 */
export function wallClockOffsetNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - process.hrtime.bigint();
}
