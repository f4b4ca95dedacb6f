import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReportJson } from '../../src/report/report-json.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

const SCENARIOS = join(import.meta.dirname, '../../fixtures/scenarios');

async function run(dir: string, file: string): Promise<{ code: number | null; report: ReportJson; stderr: string }> {
  const result = await runParity(['run', file, '--db', join(dir, 'ws.duckdb'), '--out', join(dir, 'reports'), '--format', 'json,md,html'], { timeoutMs: 90_000 });
  const runDir = /reports: (.+)/.exec(result.stderr)?.[1]?.trim() ?? '';
  return { code: result.code, report: readReport(runDir), stderr: result.stderr };
}

describe('the fan-out spec\'s playbooks as timelines, each step checked from what the gateways processed', () => {
  it('the cutover from gateway A to B: every step as expected, and nothing reaches any gateway under the kill switch', async () => {
    await withTempDir(async (dir) => {
      const result = await run(dir, join(SCENARIOS, 'ws-cutover.yaml'));
      expect(result.code, result.stderr).toBe(0);
      expect(result.report.verdict).toBe('GO');
      const steps = result.report.playbook ?? [];
      expect(steps.map((s) => [s.label, s.expected, s.ok])).toEqual([
        ['start', ['gateway-a', 'gateway-b'], true],
        ['mode single, primary 1', ['gateway-b'], true],
        ['enabled 0,1', ['gateway-b'], true],
        ['kill switch on', [], true],
        ['kill switch off', ['gateway-b'], true],
      ]);
      const killed = steps[3];
      expect(killed?.frames).toBeGreaterThan(0);
      expect(killed?.delivered).toEqual({ 'gateway-a': 0, 'gateway-b': 0 });
      // Lifted, sending resumed by itself: B processed what was sent after it.
      expect(steps[4]?.delivered['gateway-b']).toBe(steps[4]?.frames);
      // The sign-off page lists the steps, the kill switch's with nobody to reach and nothing processed.
      const html = readFileSync(join(dir, 'reports', result.report.run, 'report.html'), 'utf8');
      expect(html).toContain('<h2>Playbook steps</h2>');
      expect(html).toMatch(/<td>kill switch on<\/td><td>3\.5 s<\/td><td>[\d,]+<\/td><td>none<\/td><td>0<\/td><td>0<\/td><td class="healthy">as expected<\/td>/);
    });
  }, 120_000);

  it('the rollback drill: primary back to A, then the emergency kill switch thrown and lifted', async () => {
    await withTempDir(async (dir) => {
      const result = await run(dir, join(SCENARIOS, 'ws-rollback.yaml'));
      expect(result.code, result.stderr).toBe(0);
      expect((result.report.playbook ?? []).map((s) => [s.label, s.expected, s.ok])).toEqual([
        ['start', ['gateway-b'], true],
        ['primary 0', ['gateway-a'], true],
        ['kill switch on', [], true],
        ['kill switch off', ['gateway-a'], true],
      ]);
    });
  }, 120_000);

  it('an agent whose kill switch lets frames through is a NO-GO naming the step and the gateways it still fed', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'leaky.yaml');
      writeFileSync(file, readFileSync(join(SCENARIOS, 'ws-rollback.yaml'), 'utf8').replace('name: ws-rollback', 'name: leaky').replace('agent: { mode: single, primary_index: 1, sample_rate: 5% }', 'agent: { mode: single, primary_index: 1, sample_rate: 5%, kill_switch_leaks: true }').replace('  verdict: GO', '  verdict: NO_GO'));
      const result = await run(dir, file);
      expect(result.code, result.stderr).toBe(1);
      expect(result.report.verdict).toBe('NO_GO');
      const messages = result.report.findings.map((f) => f.message);
      expect(messages.some((m) => /^gateway-a: after "kill switch on" at 2\.5 s, \d+ of the \d+ frames sent still reached it, though the agent should send it none$/.test(m)), messages.join('\n')).toBe(true);
    });
  }, 120_000);
});
