import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReportJson } from '../../src/report/report-json.ts';
import { num, withStore } from '../../src/store/store.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

async function demo(dir: string, broken: boolean): Promise<{ code: number | null; report: ReportJson; db: string; stderr: string }> {
  const db = join(dir, 'ws.duckdb');
  const run = await runParity(['demo', '--ws', ...(broken ? ['--broken'] : []), '--db', db, '--out', join(dir, 'reports'), '--format', 'json,md,html,junit'], { timeoutMs: 90_000 });
  const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
  return { code: run.code, report: readReport(runDir), db, stderr: run.stderr };
}

/** What a loaded machine moves in a healthy fan-out: the gateways' ack times, the agent's queue. */
const LOAD_METRICS: ReadonlySet<string> = new Set(['ack_latency_p95_ms', 'relay_queue']);

const value = (report: ReportJson, metric: string, backend: string | null): number | null => report.metrics.find((m) => m.metric === metric && m.backend === backend)?.value ?? null;

describe('parity demo --ws: a WebSocket fan-out judged end to end', () => {
  it('gives GO: both gateways processed every frame once and in order, and the agent\'s counts agree with them', async () => {
    await withTempDir(async (dir) => {
      const result = await demo(dir, false);
      // What load cannot change is asserted: no finding but on how fast the gateways acked or how far the agent's queue
      // grew (a CI run under two busy loops on a slow 2-core machine warned on one of those), and the exit code the
      // outcome calls for: the demo's scenario expects GO, and any other verdict exits 1.
      const findings = result.report.findings.map((f) => `${f.severity} ${f.metric}: ${f.message}`).join('\n');
      expect(result.report.findings.filter((f) => !LOAD_METRICS.has(f.metric)), findings).toEqual([]);
      expect(result.code, result.stderr).toBe(result.report.verdict === 'GO' ? 0 : 1);
      for (const gateway of ['gateway-a', 'gateway-b']) {
        expect(value(result.report, 'delivered', gateway)).toBe(4000);
        expect(value(result.report, 'agent_claimed_sent', gateway)).toBe(4000);
      }
      // 5% of the frames asked for an ack, the same ones at both gateways.
      await withStore(result.db, async (store) => {
        const rows = await store.query('SELECT gateway, count(*) FILTER (WHERE ack_requested) AS acks FROM ws_receipts GROUP BY gateway ORDER BY gateway');
        expect(rows.map((r) => num(r.acks))).toEqual([200, 200]);
      });
    });
  }, 120_000);

  it('--broken gives NO-GO naming gateway B\'s lost and duplicated frames, counted from what it processed', async () => {
    await withTempDir(async (dir) => {
      const result = await demo(dir, true);
      expect(result.code, result.stderr).toBe(1);
      expect(result.report.verdict).toBe('NO_GO');
      const messages = result.report.findings.map((f) => f.message);
      expect(messages.some((m) => /^gateway-b: frame drop rate [\d.]+% is critical .*: \d+ of 4,000 frames did not arrive$/.test(m)), messages.join('\n')).toBe(true);
      expect(messages.some((m) => /^gateway-b: duplicate frame rate [\d.]+% is critical/.test(m)), messages.join('\n')).toBe(true);
      // Gateway A is healthy: nothing of it is flagged but, on a loaded machine, how fast it acked or the agent's queue.
      expect(result.report.metrics.filter((m) => m.backend === 'gateway-a' && (m.status === 'warning' || m.status === 'critical') && !LOAD_METRICS.has(m.metric))).toEqual([]);
      await withStore(result.db, async (store) => {
        const [row] = await store.query("SELECT count(DISTINCT (session_id, stream, seq)) AS distinct_frames, count(*) AS processed FROM ws_receipts WHERE gateway = 'gateway-b'");
        expect(value(result.report, 'lost', 'gateway-b')).toBe(4000 - num(row?.distinct_frames));
        expect(value(result.report, 'duplicated', 'gateway-b')).toBe(num(row?.processed) - num(row?.distinct_frames));
      });
    });
  }, 120_000);
});
