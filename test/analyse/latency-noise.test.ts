import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { exitCodeOf, verdictOf, type Finding, type Metric } from '../../src/analyse/analysis.ts';
import { baselineFindings } from '../../src/analyse/baseline.ts';
import { DEFAULT_BASELINE_TOLERANCE } from '../../src/analyse/thresholds.ts';
import { renderJunitReport } from '../../src/report/junit-report.ts';
import { renderMarkdownReport } from '../../src/report/markdown-report.ts';
import { renderTerminalReport } from '../../src/report/terminal-report.ts';
import type { RunTopology } from '../../src/store/run-metadata.ts';
import { createRun, finishRun } from '../../src/store/runs.ts';
import { withStore, type Store } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const REQUESTS = 2000;
const START_NS = 1_000_000_000n;

/**
 * Client latency in ms of request i (sent 1 ms apart): `base` plus a spread of 0-0.9 ms, plus `stallMs` on every
 * fifth request of the second half when `stallSecondHalf` (a machine that stalled part way through the run).
 */
interface Latency {
  base: number;
  stallMs?: number;
}

/**
 * A run of the HTTP family written straight into the store: the client's sends and the time each was answered, so
 * the test states exactly how the latency moved within the run.
 */
async function httpRun(store: Store, name: string, latency: Latency, calibration?: RunTopology['calibration']): Promise<void> {
  const topology: RunTopology = { backends: [], routes: [], ...(calibration !== undefined && { calibration }) };
  const runId = await createRun(store, { name, kind: 'scenario', protocol: 'http', topology, startedNs: START_NS });
  await store.exec(
    `INSERT INTO http_sends BY NAME
     SELECT $run_id AS run_id, i AS send_no, i AS exchange_idx, 0 AS loop_no, 'r' || i AS request_id, 'GET' AS method, '/' AS path,
            0 AS body_bytes, 0 AS body_hash, $start + i * 1000000 AS scheduled_ns, $start + i * 1000000 AS actual_ns,
            $start + i * 1000000 + CAST(1e6 * ($base + (i % 10) * 0.1 + CASE WHEN i >= $requests / 2 AND i % 5 = 0 THEN $stall ELSE 0 END) AS BIGINT) AS answered_ns,
            200 AS status, 2 AS response_bytes, 0 AS response_hash, 'live' AS routed_to, 'live' AS route_reason, 'r' || i AS echoed_request_id
     FROM range($requests) t(i)`,
    { run_id: runId, start: START_NS, requests: REQUESTS, base: latency.base, stall: latency.stallMs ?? 0 },
  );
  await finishRun(store, runId, 'completed', START_NS + BigInt(REQUESTS) * 1_000_000n);
}

const impactOf = (metrics: readonly Metric[], backend: string | null = null): Metric | undefined =>
  metrics.find((m) => m.metric === 'live_latency_impact_p95_ms' && m.backend === backend && m.route === null);

describe('latency compared across runs is judged within the machine\'s own noise', () => {
  it('a quiet machine: a small impact is judged as it is; a stall within one run makes a healthy shadow inconclusive, not guilty; a real wait stays critical through the noise', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'noise.duckdb'), async (store) => {
        await httpRun(store, 'quiet-no-shadow', { base: 5 });
        await analyseRun(store, 'quiet-no-shadow');

        // Quiet: +2 ms, and each run's halves agree to within a tenth of a millisecond.
        await httpRun(store, 'quiet-shadow', { base: 7 });
        const quiet = await analyseRun(store, 'quiet-shadow', { baseline: 'quiet-no-shadow' });
        const quietImpact = impactOf(quiet.metrics);
        expect(quietImpact?.value).toBeCloseTo(2, 1);
        expect(quietImpact?.uncertainty).toBeLessThan(0.5);
        expect(quietImpact?.status).toBe('healthy');

        // The machine stalled 600 ms on a fifth of the second half of the run with a healthy shadow: its p95 is 600 ms
        // above the run with no shadow, and 600 ms apart between its own halves. The shadow is not blamed.
        await httpRun(store, 'stalled-shadow', { base: 5, stallMs: 600 });
        const stalled = await analyseRun(store, 'stalled-shadow', { baseline: 'quiet-no-shadow' });
        const stalledImpact = impactOf(stalled.metrics);
        expect(stalledImpact?.value).toBeGreaterThan(500);
        expect(stalled.metrics.find((m) => m.metric === 'latency_noise_p95_ms')?.value).toBeGreaterThan(500);
        expect(stalledImpact?.status).toBe('inconclusive');
        const finding = stalled.findings.find((f) => f.metric === 'live_latency_impact_p95_ms');
        expect(finding?.severity).toBe('inconclusive');
        expect(finding?.message).toMatch(/^clients: live latency added by shadowing, p95 \+\d+\.\d ms ± \d+\.\d ms is inconclusive: anywhere from .* across the threshold \(warning from 20\.0 ms, critical from 50\.0 ms\)/);
        expect(stalled.findings.some((f) => f.severity === 'critical' && f.metric === 'live_latency_impact_p95_ms')).toBe(false);
        // Nothing else is wrong with the run (one warning: no backend leg was recorded): the verdict is INCONCLUSIVE,
        // which exits 1, and every report says so.
        expect(stalled.verdict).toBe('INCONCLUSIVE');
        const junit = renderJunitReport(stalled);
        expect(junit).toMatch(/failures="1"/);
        expect(junit).toMatch(/<failure message="live latency added by shadowing, p95 \(all routes\): 599\.\d ms ± 599\.\d ms is inconclusive" type="inconclusive">/);
        expect(renderMarkdownReport(stalled)).toMatch(/❔ INCONCLUSIVE/);
        expect(renderTerminalReport(stalled, { colour: false })).toMatch(/^INCONCLUSIVE clients: live latency added by shadowing, p95 \+599\.\d ms ± 599\.\d ms is inconclusive/m);
        expect(renderTerminalReport(stalled, { colour: false })).toMatch(/added by shadowing p50 .*, p95 599\.\d ms ± 599\.\d ms/);

        // A proxy that waits 300 ms for its shadow, on a machine that moves the p95 by 100 ms within each run: the
        // impact is 300 ± 141 ms (the two runs' drifts of 100 ms combined), critical even at its lowest.
        await httpRun(store, 'noisy-no-shadow', { base: 5, stallMs: 100 });
        await analyseRun(store, 'noisy-no-shadow');
        await httpRun(store, 'waiting-shadow', { base: 305, stallMs: 100 });
        const waiting = await analyseRun(store, 'waiting-shadow', { baseline: 'noisy-no-shadow' });
        const waitingImpact = impactOf(waiting.metrics);
        expect(waitingImpact?.value).toBeCloseTo(300, 0);
        expect(waitingImpact?.uncertainty).toBeCloseTo(141, -1);
        expect(waitingImpact?.status).toBe('critical');

        // A scenario's run judged by its calibration runs: the condition "shadow healthy" keeps its uncertainty.
        await httpRun(store, 'main', { base: 5 }, { noShadow: 'quiet-no-shadow', conditions: [{ label: 'healthy', run: 'stalled-shadow' }] });
        const main = await analyseRun(store, 'main');
        expect(impactOf(main.metrics, 'shadow healthy')?.status).toBe('inconclusive');
        expect(impactOf(main.metrics)?.status).toBe('healthy');
        // Stored with the metric, and in report.json's metrics.
        const [stored] = await store.query(
          "SELECT uncertainty, route_metrics.status FROM route_metrics JOIN runs USING (run_id) WHERE name = 'stalled-shadow' AND metric = 'live_latency_impact_p95_ms'",
        );
        expect(Number(stored?.uncertainty)).toBeGreaterThan(500);
        expect(stored?.status).toBe('inconclusive');
      });
    });
  });

  it('a baseline analysed before the gauge has its drift measured from its sends', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'old.duckdb'), async (store) => {
        await httpRun(store, 'old-no-shadow', { base: 5, stallMs: 600 });
        await analyseRun(store, 'old-no-shadow');
        await store.exec("DELETE FROM route_metrics WHERE metric = 'latency_noise_p95_ms'");
        await httpRun(store, 'after', { base: 6 });
        const after = await analyseRun(store, 'after', { baseline: 'old-no-shadow' });
        expect(impactOf(after.metrics)?.uncertainty).toBeGreaterThan(500);
      });
    });
  });
});

/** The same for the Postgres family: statements sent 1 ms apart through the pooler, each done `latency` later. */
async function pgRun(store: Store, name: string, latency: Latency): Promise<void> {
  const runId = await createRun(store, { name, kind: 'replay', protocol: 'pg', topology: { backends: [], routes: [] }, startedNs: START_NS });
  await store.exec(
    `INSERT INTO pg_sends BY NAME
     SELECT $run_id AS run_id, i AS send_no, 's' || (i % 4) AS session, i AS seq, 'SELECT 1' AS query,
            $start + i * 1000000 AS scheduled_ns, $start + i * 1000000 AS actual_ns,
            $start + i * 1000000 + CAST(1e6 * ($base + (i % 10) * 0.1 + CASE WHEN i >= $requests / 2 AND i % 5 = 0 THEN $stall ELSE 0 END) AS BIGINT) AS done_ns,
            'SELECT 1' AS command_tag, 1 AS row_count
     FROM range($requests) t(i)`,
    { run_id: runId, start: START_NS, requests: REQUESTS, base: latency.base, stall: latency.stallMs ?? 0 },
  );
  await finishRun(store, runId, 'completed', START_NS + BigInt(REQUESTS) * 1_000_000n);
}

describe('a Postgres run against a run with mirroring off', () => {
  it('takes --baseline as that run, judges the impact within both drifts, and refuses a baseline that is not there', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'pg.duckdb'), async (store) => {
        await pgRun(store, 'no-mirror', { base: 2 });
        await pgRun(store, 'mirrored', { base: 2, stallMs: 400 });
        const judged = await analyseRun(store, 'mirrored', { baseline: 'no-mirror' });
        expect(judged.baseline).toBe('no-mirror');
        expect(impactOf(judged.metrics)?.uncertainty).toBeGreaterThan(300);
        expect(impactOf(judged.metrics)?.status).toBe('inconclusive');
        // Without it (no calibration run in its topology), no impact is claimed.
        expect(impactOf((await analyseRun(store, 'mirrored')).metrics)).toBeUndefined();
        await expect(analyseRun(store, 'mirrored', { baseline: 'gone' })).rejects.toThrow(/gone/);
        await expect(analyseRun(store, 'mirrored', { noise: 'gone' })).rejects.toThrow(/gone/);
      });
    });
  });

  it('a WebSocket run refuses --baseline and --noise instead of ignoring them', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'ws.duckdb'), async (store) => {
        const runId = await createRun(store, { name: 'fanout', kind: 'replay', protocol: 'ws', topology: { backends: [], routes: [] }, startedNs: START_NS });
        await finishRun(store, runId, 'completed', START_NS);
        await expect(analyseRun(store, 'fanout', { baseline: 'other' })).rejects.toThrow(/--baseline is not for WebSocket runs/);
        await expect(analyseRun(store, 'fanout', { noise: 'other' })).rejects.toThrow(/--noise is for HTTP and Postgres runs/);
      });
    });
  });
});

describe('a UDP latency against a baseline', () => {
  const metric = (value: number, backend = 'mirror'): Metric => ({ metric: 'ack_latency_p95_ms', route: null, backend, value, unit: 'ms', status: null });
  const baseline = [
    { metric: 'ack_latency_p95_ms', route: null, backend: 'mirror', value: 100, unit: 'ms' as const },
    { metric: 'ack_latency_p95_ms', route: null, backend: 'primary', value: 0.2, unit: 'ms' as const },
  ];
  const judged = (value: number, drift: number, backend = 'mirror'): Finding[] =>
    baselineFindings([metric(value, backend)], baseline, DEFAULT_BASELINE_TOLERANCE, 'base', new Map([[`ack_latency_p95_ms|null|${backend}`, drift]]));

  it('rises within 20% or 1 ms are no regression; beyond, warning then critical; straddling an edge within the drift, inconclusive', () => {
    expect(judged(0.5, 0, 'primary')).toEqual([]);
    expect(judged(115, 0)).toEqual([]);
    expect(judged(130, 0)[0]?.severity).toBe('warning');
    expect(judged(150, 0)[0]?.severity).toBe('critical');
    expect(judged(130, 5)[0]?.severity).toBe('warning');
    const straddling = judged(130, 20)[0];
    expect(straddling?.severity).toBe('inconclusive');
    expect(straddling?.message).toMatch(/^mirror: ACK latency p95 against base is inconclusive: 100\.0 ms -> 130\.0 ms ± 20\.0 ms \(anywhere from \+10% to \+50%; a regression from \+20\.0 ms\)/);
    expect(judged(400, 150)[0]?.severity).toBe('critical');
  });

  it('a baseline with nothing to compare (another family\'s run, other backends) is refused, not passed', () => {
    const other = [{ metric: 'client_latency_p95_ms', route: null, backend: null, value: 5, unit: 'ms' as const }];
    expect(() => baselineFindings([metric(130)], other, DEFAULT_BASELINE_TOLERANCE, 'http-run')).toThrow(/baseline "http-run" has none of the metrics compared/);
  });
});

describe('the verdict of an inconclusive comparison', () => {
  const finding = (severity: Finding['severity']): Finding => ({ severity, kind: 'threshold', metric: 'live_latency_impact_p95_ms', route: null, backend: null, value: 1, message: severity });

  it('is INCONCLUSIVE and exits 1 unless something is critical; reports count it as a failure', () => {
    expect(verdictOf([], [finding('inconclusive'), finding('warning')])).toBe('INCONCLUSIVE');
    expect(verdictOf([], [finding('inconclusive'), finding('critical')])).toBe('NO_GO');
    expect(exitCodeOf('INCONCLUSIVE', false)).toBe(1);
  });
});
