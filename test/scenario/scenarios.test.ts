import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { num, withStore } from '../../src/store/store.ts';
import type { ReportJson } from '../../src/report/report-json.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

const SCENARIOS = join(import.meta.dirname, '../../fixtures/scenarios');
/** The subprocess gets less time than its test, so a run that hangs fails with its own output shown. */
const SCENARIO_TIMEOUT_MS = 150_000;
const SUBPROCESS_TIMEOUT_MS = 120_000;

afterEach(killAllParity);

async function runScenario(dir: string, file: string): Promise<{ code: number | null; report: ReportJson; db: string; stdout: string; stderr: string }> {
  const db = join(dir, 'scenario.duckdb');
  const run = await runParity(['run', join(SCENARIOS, file), '--db', db, '--out', join(dir, 'reports'), '--format', 'json,md,html,junit'], { timeoutMs: SUBPROCESS_TIMEOUT_MS });
  const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
  const report = readReport(runDir);
  return { code: run.code, report, db, stdout: run.stdout, stderr: run.stderr };
}

const findingsOf = (report: ReportJson): string[] => report.findings.map((f) => f.message);

describe('repository scenarios through parity run', () => {
  it.each([
    { file: 'go.yaml', verdict: 'GO', code: 0, findings: [] as RegExp[] },
    { file: 'mirror-loss.yaml', verdict: 'NO_GO', code: 1, findings: [/^mirror: frame drop rate 2\.\d+% on route 20500 is critical/] },
    { file: 'ack-mismatch.yaml', verdict: 'NO_GO', code: 1, findings: [/^mirror: ACK mismatch rate 100\.00% .*app version differs \(primary 0\.0\.0, mirror 2\.0\.0\)/] },
    { file: 'latency-warning.yaml', verdict: 'GO_WITH_WARNINGS', code: 0, findings: [/^mirror: ACK latency p95 1\d\d\d\.\d ms( ± [\d.]+ (ms|µs))? on route 20500 is warning/] },
  ])('$file gives $verdict with its findings', async ({ file, verdict, code, findings }) => {
    await withTempDir(async (dir) => {
      const result = await runScenario(dir, file);
      expect(result.code, result.stderr).toBe(code);
      expect(result.report.verdict).toBe(verdict);
      for (const pattern of findings) expect(findingsOf(result.report).some((f) => pattern.test(f)), findingsOf(result.report).join('\n')).toBe(true);
      if (verdict === 'GO') expect(result.report.findings).toEqual([]);
      // Faults are named on the mirror only: the primary is healthy in every scenario.
      expect(result.report.metrics.filter((m) => m.backend === 'primary' && (m.status === 'warning' || m.status === 'critical'))).toEqual([]);
    });
  }, SCENARIO_TIMEOUT_MS);

  // How much the mirror's death costs the ACK flow in time is measured by `npm run bench -- relay-faults`, not here.
  it('mirror-killed: every device still gets its ACK while the mirror is down, and the mirror\'s gap shows in the drift windows', async () => {
    await withTempDir(async (dir) => {
      const result = await runScenario(dir, 'mirror-killed.yaml');
      expect(result.report.verdict).toBe('NO_GO');
      expect(findingsOf(result.report).some((f) => f.startsWith('mirror: frame drop rate'))).toBe(true);
      // The devices' view is healthy: the fault is the mirror's alone.
      expect(result.report.metrics.filter((m) => m.backend === null && m.status !== null && m.status !== 'healthy')).toEqual([]);
      await withStore(result.db, async (store) => {
        const [acks] = await store.query(`SELECT count(*) FILTER (WHERE device_acked) acked, count(*) FILTER (WHERE wants_ack) wanted FROM packet_parity WHERE backend = 'primary'`);
        expect(acks?.acked).toBe(acks?.wanted);
        const windows = await store.query("SELECT window_start_s, sum(delivered) FILTER (WHERE backend = 'mirror') AS mirror_delivered, sum(delivered) FILTER (WHERE backend = 'primary') AS primary_delivered FROM drift_windows GROUP BY 1 ORDER BY 1");
        const gaps = windows.filter((w) => num(w.mirror_delivered) < num(w.primary_delivered) * 0.9);
        expect(gaps.length).toBeGreaterThan(0);
      });
      const html = readFileSync(join(dir, 'reports', result.report.run, 'report.html'), 'utf8');
      expect(html).toContain('id="chart-drift"');
    });
  }, SCENARIO_TIMEOUT_MS);

  it('ack-flip: a live reload moves the ACK source to the mirror half-way, and the run stays GO', async () => {
    await withTempDir(async (dir) => {
      const result = await runScenario(dir, 'ack-flip.yaml');
      expect(result.report.verdict).toBe('GO');
      await withStore(result.db, async (store) => {
        const rows = await store.query("SELECT ts_ns, payload FROM observations WHERE leg = 'relay>device' ORDER BY ts_ns");
        const versions = rows.map((r) => String(calampLmd.decodeAck(r.payload as Uint8Array).fields.appVersion));
        const firstMirror = versions.indexOf('2.0.0');
        expect(firstMirror).toBeGreaterThan(100);
        // Before the flip every ACK is the primary's; after it, the mirror's (a few in flight at the swap aside).
        expect(versions.slice(0, firstMirror).every((v) => v === '0.0.0')).toBe(true);
        const after = versions.slice(firstMirror + 20);
        expect(after.length).toBeGreaterThan(100);
        expect(after.every((v) => v === '2.0.0')).toBe(true);
      });
    });
  }, SCENARIO_TIMEOUT_MS);

  it('kill switch on mid-run: the relay is named for what it dropped, from its own counts, and no backend is blamed', async () => {
    await withTempDir(async (dir) => {
      const go = readFileSync(join(SCENARIOS, 'go.yaml'), 'utf8');
      const file = join(dir, 'kill-switch.yaml');
      writeFileSync(
        file,
        go
          .replace('name: go', 'name: kill-switch')
          .replace('../fleet-calamp.pcap', join(SCENARIOS, '../fleet-calamp.pcap'))
          .replace('expect:\n  verdict: GO', 'timeline:\n  - { at: 2s, reload: { kill_switch: true } }\nexpect:\n  verdict: NO_GO'),
      );
      const db = join(dir, 'scenario.duckdb');
      const run = await runParity(['run', file, '--db', db, '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: SUBPROCESS_TIMEOUT_MS });
      const report = readReport(/reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '');
      expect(run.code, run.stderr).toBe(1);
      expect(report.verdict).toBe('NO_GO');
      const unreached = report.metrics.find((m) => m.metric === 'unreached' && m.route === null)?.value ?? 0;
      expect(unreached).toBeGreaterThan(500);
      const messages = findingsOf(report).join('\n');
      // Until 2026-12-02 the relay was named only for what reached no backend, "lost on the way to the relay or at it".
      for (const backend of ['primary', 'mirror']) {
        const own = new RegExp(`^relay: ([\\d,]+) of its sends to ${backend} \\(udp://[\\d.]+\\) failed at its own side \\(its own counts: [\\d,]+ dropped, not sent at all: its kill switch on`, 'm').exec(messages);
        expect(own, messages).not.toBeNull();
        // The relay's own count is what reached no backend (less any it dropped on arrival, on a busy machine).
        const dropped = Number(own?.[1]?.replace(/,/g, ''));
        expect(dropped).toBeLessThanOrEqual(unreached);
        expect(dropped).toBeGreaterThan(unreached * 0.9);
      }
      expect(messages).toMatch(/reached no backend: .*; the relay itself reports [\d,]+ of its sends to (primary|mirror) failed at its side and [\d,]+ of its sends to (primary|mirror) failed at its side/);
      // What both backends did not get was the relay's: neither is blamed.
      expect(report.findings.filter((f) => f.kind === 'threshold' && f.backend !== null)).toEqual([]);
    });
  }, SCENARIO_TIMEOUT_MS);

  it('a scenario whose capture file is cut short is refused in one line naming the file, and keeps no capture of it', async () => {
    await withTempDir(async (dir) => {
      const whole = readFileSync(join(SCENARIOS, '../fleet-calamp.pcap'));
      writeFileSync(join(dir, 'cut short.pcap'), whole.subarray(0, Math.floor(whole.length / 2) + 7));
      writeFileSync(join(dir, 'cut.yaml'), 'name: cut\ntraffic: { capture: cut short.pcap }\nrelay: { builtin: { mirror: true } }\nbackends: { primary: {}, mirror: {} }\nreplay: { speed: max }\n');
      const db = join(dir, 'cut.duckdb');
      const run = await runParity(['run', join(dir, 'cut.yaml'), '--db', db, '--out', join(dir, 'reports')], { timeoutMs: SUBPROCESS_TIMEOUT_MS });
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/traffic\.capture: .*cut short\.pcap/);
      expect(JSON.parse((await runParity(['captures', '--db', db, '--json'])).stdout)).toEqual([]);
    });
  }, SCENARIO_TIMEOUT_MS);
});
