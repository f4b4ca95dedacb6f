import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReportJson } from '../../src/report/report-json.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

const SCENARIO_TIMEOUT_MS = 150_000;
const SUBPROCESS_TIMEOUT_MS = 120_000;

afterEach(killAllParity);

async function demo(dir: string, broken: boolean): Promise<{ code: number | null; report: ReportJson; db: string; stderr: string; stdout: string }> {
  const db = join(dir, 'http.duckdb');
  const run = await runParity(['demo', '--http', ...(broken ? ['--broken'] : []), '--db', db, '--out', join(dir, 'reports'), '--format', 'json,md,html,junit'], { timeoutMs: SUBPROCESS_TIMEOUT_MS });
  const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
  const report = readReport(runDir);
  return { code: run.code, report, db, stderr: run.stderr, stdout: run.stdout };
}

const value = (report: ReportJson, metric: string, backend: string | null): number | null => report.metrics.find((m) => m.metric === metric && m.backend === backend && m.route === null)?.value ?? null;

describe('parity demo --http: a shadowing proxy judged end to end', () => {
  it('gives GO through the reference proxy, after a run with no shadow and an A/A run that cancel latency and noise', async () => {
    await withTempDir(async (dir) => {
      const result = await demo(dir, false);
      // A loaded machine moves latencies past the demo's bounds (a failing shadow's calibration once showed +260 ms on
      // a CI box with two busy loops, another run +811 ms, and the live path's p95 with the shadow against the run
      // without it moved as far): the gate then fails closed on timing, which is its rule. What load cannot change is
      // asserted: no finding but on a latency, and the exit code the outcome calls for. The demo's scenario expects GO,
      // and a run that misses its expectation exits 1, a GO_WITH_WARNINGS on a latency included (seen on a slow machine
      // with nothing else running: the verdict then warned on the live path's p95).
      const findings = result.report.findings.map((f) => `${f.severity} ${f.metric}: ${f.message}`).join('\n');
      const notTiming = result.report.findings.filter((f) => !/latency/.test(f.metric));
      expect(notTiming, findings).toEqual([]);
      expect(result.code, result.stderr).toBe(result.report.verdict === 'GO' ? 0 : 1);
      if (result.report.verdict !== 'GO') expect(result.stderr).toContain(`scenario expectation not met: verdict ${result.report.verdict}, expected GO`);
      expect(result.report.tested.protocol).toBe('http');
      // The volatile fields were learned as noise in the A/A run, and only they differ.
      const differing = (result.report.responseFields ?? []).filter((f) => f.differing > 0);
      expect(differing.map((f) => f.field).sort()).toEqual(['responseId', 'servedAt']);
      expect(differing.every((f) => !f.counted && f.excused === 'noise')).toBe(true);
      expect(result.stderr).toMatch(/fields that differ between two copies of live \(noise\): .*servedAt 100%/);
      // What the backends recorded, read straight from the store: every request reached both, whole.
      await withStore(result.db, async (store) => {
        const rows = await store.query(`
          SELECT r.backend, count(*) AS received, count(*) FILTER (WHERE r.body_hash = s.body_hash AND r.method = s.method AND r.path = s.path) AS intact
          FROM http_sends s JOIN runs USING (run_id) JOIN http_receipts r ON r.run_id = s.run_id AND r.request_id = s.request_id
          WHERE runs.name = $name GROUP BY r.backend ORDER BY r.backend`, { name: result.report.run });
        expect(rows.map((r) => [str(r.backend), num(r.received), num(r.intact)])).toEqual([['live', 400, 400], ['shadow', 400, 400]]);
      });
      // The live latency was measured with the shadow healthy, slow and failing, each against the run with no shadow.
      for (const condition of [null, 'shadow healthy', 'shadow slow', 'shadow failing']) expect(value(result.report, 'live_latency_impact_p95_ms', condition)).not.toBeNull();
      expect(result.stderr).toMatch(/calibration run .*-shadow-slow: the shadow slow: live latency p95/);
    });
  }, SCENARIO_TIMEOUT_MS);

  it('--broken gives NO-GO naming the empty shadow bodies, the live path slowed by the shadow, and the changed field', async () => {
    await withTempDir(async (dir) => {
      const result = await demo(dir, true);
      expect(result.code, result.stderr).toBe(1);
      expect(result.report.verdict).toBe('NO_GO');
      const messages = result.report.findings.map((f) => f.message);
      expect(messages.some((m) => /^shadow: body mismatch rate .* is critical.* with an empty body/.test(m)), messages.join('\n')).toBe(true);
      expect(messages.some((m) => /^shadow: response mismatch rate .*field totalCents differs in \d+ of \d+, A\/A noise [\d.]+% \(live \d+, shadow 0\)/.test(m)), messages.join('\n')).toBe(true);
      // The shadow answers in 300 ms and the naive proxy's live path waits for it on every request: the clients' median
      // moves by most of that, however busy the machine.
      expect(value(result.report, 'live_latency_impact_p50_ms', null)).toBeGreaterThan(150);
      // At p95 the wait shows against the run with no shadow where that run's own p95 is not the machine's load. With two
      // busy loops on a slow 2-core machine that run's p95 was 1,043 ms, and a difference of p95s could see neither the
      // 300 ms wait of the run judged nor the absence of one (the healthy shadow's condition came out at +1,029 ms). The
      // runs' drift now makes such a difference inconclusive rather than wrong (test/analyse/latency-noise.test.ts); how
      // much drift a loaded machine shows within one run is its own, so the finding is asserted on a quiet one only. And
      // there it is critical or, where the naive proxy's own queue drifted within a run as far (the slow shadow's
      // condition once read +148 ms ± 143 ms on an idle machine), inconclusive: never healthy, never a pass.
      const baselineP95 = (value(result.report, 'client_latency_p95_ms', null) ?? 0) - (value(result.report, 'live_latency_impact_p95_ms', null) ?? 0);
      const impactStatus = (backend: string | null): string | null | undefined =>
        result.report.metrics.find((m) => m.metric === 'live_latency_impact_p95_ms' && m.backend === backend && m.route === null)?.status;
      if (baselineP95 < 150) {
        expect(impactStatus(null), messages.join('\n')).toMatch(/^(critical|inconclusive)$/);
        if (impactStatus(null) === 'critical') expect(messages.some((m) => /^clients: live latency added by shadowing, p95 .* is critical.*slowed by the shadow/.test(m)), messages.join('\n')).toBe(true);
        expect(value(result.report, 'live_latency_impact_p95_ms', null)).toBeGreaterThan(150);
        // Measured under each condition of the shadow: the naive proxy's live path waits most when the shadow is slow.
        expect(impactStatus('shadow slow'), messages.join('\n')).toMatch(/^(critical|inconclusive)$/);
      }
      // Measured under the failing condition too (its size is the machine's noise: a reset is not waited on).
      expect(value(result.report, 'live_latency_impact_p95_ms', 'shadow failing')).not.toBeNull();
      // The live backend is healthy: every fault is named on the shadow's legs or the proxy's live path.
      expect(result.report.metrics.filter((m) => m.backend === 'live' && (m.status === 'warning' || m.status === 'critical'))).toEqual([]);
      await withStore(result.db, async (store) => {
        // Counted from the shadow's own record: requests that had a body and reached it without one.
        const [row] = await store.query(`
          SELECT count(*) AS emptied FROM http_sends s JOIN runs USING (run_id)
          JOIN http_receipts r ON r.run_id = s.run_id AND r.request_id = s.request_id AND r.backend = 'shadow'
          WHERE runs.name = $name AND s.body_bytes > 0 AND r.body_bytes = 0`, { name: result.report.run });
        expect(num(row?.emptied)).toBeGreaterThan(0);
        expect(value(result.report, 'empty_bodies', 'shadow')).toBe(num(row?.emptied));
      });
      const markdown = readFileSync(join(dir, 'reports', result.report.run, 'report.md'), 'utf8');
      expect(markdown).toMatch(/\| shadow \| `totalCents` \| .* \| differs \|/);
    });
  }, SCENARIO_TIMEOUT_MS);
});
