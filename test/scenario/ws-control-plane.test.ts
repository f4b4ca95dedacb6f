import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReportJson } from '../../src/report/report-json.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

const SCENARIO = join(import.meta.dirname, '../../fixtures/scenarios/ws-control-plane.yaml');

async function run(dir: string, file: string): Promise<{ code: number | null; report: ReportJson; stderr: string }> {
  const result = await runParity(['run', file, '--db', join(dir, 'ws.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 90_000 });
  const runDir = /reports: (.+)/.exec(result.stderr)?.[1]?.trim() ?? '';
  return { code: result.code, report: readReport(runDir), stderr: result.stderr };
}

describe('a cutover pushed by a control plane, through its outage and an invalid snapshot', () => {
  it('every snapshot acked or refused as it should be, the one published in the outage applied on reconnect, no frame lost: GO', async () => {
    await withTempDir(async (dir) => {
      const result = await run(dir, SCENARIO);
      expect(result.code, result.stderr).toBe(0);
      expect(result.report.verdict).toBe('GO');
      const steps = result.report.playbook ?? [];
      expect(steps.map((s) => [s.label.replace(/published at [\d.]+ s/, 'published'), s.expected, s.ok])).toEqual([
        ['start', ['gateway-a', 'gateway-b'], true],
        ['primary 1 (v2, published)', ['gateway-a', 'gateway-b'], true],
        ['control plane down', ['gateway-a', 'gateway-b'], true],
        ['control plane up', ['gateway-a', 'gateway-b'], true],
        ['mode single (v3, published)', ['gateway-b'], true],
        ['invalid snapshot v4', ['gateway-b'], true],
        ['mode parallel (v5, published)', ['gateway-a', 'gateway-b'], true],
      ]);
      // The switch published during the outage took effect only once the agent was back (its backoff: 1 s, then 2 s).
      const single = steps[4];
      expect(single?.atMs).toBeGreaterThan(4000);
      // What passed between them, as the run keeps it: v4 refused, the rest acked, the agent on v5 at the end.
      const topology = await withStore(join(dir, 'ws.duckdb'), async (store) => JSON.parse(str((await store.query('SELECT topology FROM runs'))[0]?.topology)) as { controlPlane: { events: { event: string; version: string | null; detail: string | null }[]; final: { version: string } } });
      const answers = topology.controlPlane.events.filter((e) => e.event === 'ack' || e.event === 'nack').map((e) => `${e.event} v${e.version ?? '?'}`);
      expect([...new Set(answers)]).toEqual(['ack v1', 'ack v2', 'ack v3', 'nack v4', 'ack v5']);
      expect(topology.controlPlane.events.find((e) => e.event === 'nack')?.detail).toBe('primaryIndex: must be the index of a backend, 0 to 1');
      expect(topology.controlPlane.final.version).toBe('5');
      expect(num(result.report.metrics.find((m) => m.metric === 'drop_rate' && m.backend === 'gateway-b')?.value)).toBe(0);
    });
  }, 120_000);

  it('an agent that drops what comes in while it swaps configurations is a NO-GO naming each swap and the frames lost', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'drops.yaml');
      writeFileSync(file, readFileSync(SCENARIO, 'utf8').replace('name: ws-control-plane', 'name: drops').replace('control_plane: true }', 'control_plane: true, drops_on_swap: 60ms }').replace('  verdict: GO', '  verdict: NO_GO'));
      const result = await run(dir, file);
      expect(result.code, result.stderr).toBe(1);
      expect(result.report.verdict).toBe('NO_GO');
      const messages = result.report.findings.map((f) => f.message);
      const swap = /^gateway-b: frames in flight as "mode single \(v3, published at 3\.0 s\)" took effect at [\d.]+ s were lost: it processed (\d+) of the (\d+) sent within 100 ms of it, though both configurations send to it$/;
      const found = messages.map((m) => swap.exec(m)).find((m) => m !== null);
      expect(found, messages.join('\n')).toBeDefined();
      expect(Number(found?.[1])).toBeLessThan(Number(found?.[2]));
    });
  }, 120_000);
});
