import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPgBin } from '../../src/backends/pg/pg-cluster.ts';
import type { ReportJson } from '../../src/report/report-json.ts';
import { isMachineBound, machineBoundVerdict } from '../helpers/machine-bound-findings.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

const ready = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");

async function demo(dir: string, broken: boolean): Promise<{ code: number | null; report: ReportJson; db: string; stderr: string }> {
  const db = join(dir, 'pg.duckdb');
  const run = await runParity(['demo', '--pg', ...(broken ? ['--broken'] : []), '--db', db, '--out', join(dir, 'reports'), '--format', 'json,md'], { timeoutMs: 120_000 });
  const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
  return { code: run.code, report: readReport(runDir), db, stderr: run.stderr };
}

const value = (report: ReportJson, metric: string, backend: string | null): number | null => report.metrics.find((m) => m.metric === metric && m.backend === backend && m.route === null)?.value ?? null;

describe.runIf(ready)('parity demo --pg: a database mirror judged statement by statement', () => {
  it('gives GO: every statement reached both databases, the mirror answered each as the primary did', async () => {
    await withTempDir(async (dir) => {
      const result = await demo(dir, false);
      // GO, or only what a machine too busy for its latencies makes of them (isMachineBound), and the demo exits 1 (it
      // expects GO).
      expect(result.report.findings.filter((f) => !isMachineBound(f)), result.stderr).toEqual([]);
      expect(result.report.verdict).toBe(machineBoundVerdict(result.report.findings));
      expect(result.code, result.stderr).toBe(result.report.verdict === 'GO' ? 0 : 1);
      const sent = value(result.report, 'sent', null);
      expect(sent).toBeGreaterThan(400);
      expect(value(result.report, 'delivered', 'primary')).toBe(sent);
      expect(value(result.report, 'delivered', 'mirror')).toBe(sent);
      expect(value(result.report, 'response_compared', 'mirror')).toBeGreaterThanOrEqual(sent as number);
      // The A/A run (two copies of the database) learned what differs by itself: reads of clock_timestamp(), excused.
      expect(result.stderr).toMatch(/calibration run pg-demo-1-aa: [1-9]\d* results differ between two copies of the database \(noise\)/);
      expect(value(result.report, 'response_mismatches', 'mirror')).toBe(0);
      // What mirroring adds to the live path, against a run with mirroring off (its size is the machine's noise here).
      expect(result.stderr).toMatch(/calibration run pg-demo-1-no-mirror: the live path with mirroring off/);
      for (const p of ['p50', 'p95', 'p99']) expect(value(result.report, `live_latency_impact_${p}_ms`, null)).not.toBeNull();
      // What each database received, read straight from the taps' record: the same statements, in each session's order.
      await withStore(result.db, async (store) => {
        const rows = await store.query(`SELECT database, count(*) AS n, count(*) FILTER (WHERE sqlstate IS NOT NULL) AS failed FROM pg_receipts JOIN runs USING (run_id) WHERE runs.name = $name GROUP BY database ORDER BY database`, { name: result.report.run });
        expect(rows.map((r) => [str(r.database), num(r.n), num(r.failed)])).toEqual([['mirror', num(rows[1]?.n), 0], ['primary', num(rows[1]?.n), 0]]);
      });
    });
  }, 150_000);

  it('--broken gives NO-GO naming the statement family whose results differ (a changed default) and the queue that overflowed', async () => {
    await withTempDir(async (dir) => {
      const result = await demo(dir, true);
      expect(result.code, result.stderr).toBe(1);
      expect(result.report.verdict).toBe('NO_GO');
      const messages = result.report.findings.map((f) => `${f.severity}: ${f.message}`);
      expect(messages.some((m) => /^critical: mirror: statement family `SELECT id, cents, status FROM orders WHERE customer = \$1 ORDER BY id`: [\d,]+ of [\d,]+ results differ from the primary's \(rows\), A\/A noise 0\.00%$/.test(m)), messages.join('\n')).toBe(true);
      expect(messages.some((m) => /^critical: mirror: pooler drop rate \(queue full\) .* requests the pooler sampled for the mirror were dropped because its mirror queue was full$/.test(m)), messages.join('\n')).toBe(true);
      // The other statement families agree, and nothing is blamed on the primary.
      expect(messages.filter((m) => m.includes('statement family'))).toHaveLength(1);
      expect(result.report.findings.filter((f) => f.backend === 'primary')).toEqual([]);
      // The pooler's own metrics agree with what the mirror's tap saw arrive.
      expect(messages.some((m) => m.includes('its metrics cannot be taken'))).toBe(false);
    });
  }, 150_000);
});
