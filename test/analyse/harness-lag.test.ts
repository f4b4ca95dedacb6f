import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withStore } from '../../src/store/store.ts';
import { HarnessLagGauge } from '../../src/run/harness-lag.ts';
import { quickRun } from '../helpers/quick-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/** Holds this thread for `ms`, as a long DuckDB commit or a collector pause does. */
function holdLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

describe("the harness's own event loop is a blind spot it measures", () => {
  it('a gauge reads a held loop as late', async () => {
    const gauge = new HarnessLagGauge();
    await new Promise((resolve) => setTimeout(resolve, 100));
    holdLoop(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lag = gauge.stop();
    expect(lag).not.toBeNull();
    // The sampling timer fires at most 10 ms before the hold, and again only after it.
    expect(lag?.maxMs).toBeGreaterThanOrEqual(185);
    expect(gauge.stop()).toEqual(lag);
  });

  it('a run whose harness stalled judges healthy backends\' answer time inconclusive, not late, with default thresholds', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'lag.duckdb'), async (store) => {
        // The process that stamps the backends' legs is held 150 ms in every 200 ms while the run lasts: two healthy
        // backends (1 ms) look as slow as the stalls to its stamps.
        const stalls = setInterval(() => holdLoop(150), 200);
        let result;
        try {
          result = await quickRun(store, dir, { name: 'stalled', thresholds: {} });
        } finally {
          clearInterval(stalls);
        }
        const { analysis } = result;
        const lag = analysis.metrics.find((m) => m.metric === 'harness_lag_p99_ms')?.value ?? 0;
        expect(lag).toBeGreaterThan(100);
        const answerTimes = analysis.metrics.filter((m) => m.metric === 'ack_latency_p95_ms' && m.status !== null);
        expect(answerTimes.length).toBeGreaterThan(0);
        // Each healthy backend's p95 is healthy or inconclusive, never a warning or critical: the stalls are not theirs.
        expect(answerTimes.filter((m) => m.status === 'warning' || m.status === 'critical'), JSON.stringify(answerTimes)).toEqual([]);
        expect(answerTimes.every((m) => m.uncertainty === lag && m.uncertaintySource === 'harness_lag')).toBe(true);
        for (const finding of analysis.findings.filter((f) => f.severity === 'inconclusive')) {
          // A p95 under a millisecond is written in µs (the relay's added time was 635 µs in one loaded run).
          expect(finding.message).toMatch(/^\w+: [\w -]+ p95 [\d.]+ (?:µs|ms|s) ± [\d.]+ (?:µs|ms|s) on route 20500 is inconclusive: anywhere from \d.* The harness's own event loop ran that late at p99 while it timestamped the legs/);
        }
        // The relay is healthy too: what the stalls added to the devices' round trip is not put on it.
        const relayAdded = analysis.metrics.filter((m) => m.metric === 'relay_added_latency_p95_ms' && m.status !== null);
        expect(relayAdded.filter((m) => m.status === 'warning' || m.status === 'critical'), JSON.stringify(relayAdded)).toEqual([]);
        expect(analysis.verdict).not.toBe('GO');
        const [row] = await store.query("SELECT harness_lag_p99_ms, harness_lag_max_ms FROM runs WHERE name = 'stalled-1'");
        expect(Number(row?.harness_lag_max_ms)).toBeGreaterThanOrEqual(Number(row?.harness_lag_p99_ms));
      });
    });
  });
});
