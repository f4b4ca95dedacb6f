/**
 * The harness's clock: CLOCK_MONOTONIC nanoseconds (`process.hrtime.bigint()`), comparable across processes on one
 * host, so a replayer, a relay and backends in different processes time the same packet on one scale. Wall-clock
 * capture times are a different clock domain and are never subtracted from these.
 */
export function monotonicNs(): bigint {
  return process.hrtime.bigint();
}
