import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReportJson } from '../../src/report/report-json.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

const FAULT_AGENT = join(import.meta.dirname, '../peers/fault-agent.mjs');

/** Runs 400 frames through the fault agent (written apart from the reference agent) to two healthy simulated gateways. */
async function throughFaultAgent(dir: string, agentArgs: string, ports: { ingest: number; debug: number }): Promise<ReportJson> {
  writeFileSync(
    join(dir, 'agent.yaml'),
    `name: fault-agent
protocol: ws
traffic:
  generate: { sessions: 2, streams: [baseline], rate: 50hz, duration: 4s, seed: 4 }
agent:
  mode: parallel
  external: { command: exec "${process.execPath}" "${FAULT_AGENT}" ${agentArgs}, ingest_port: ${ports.ingest}, debug_port: ${ports.debug} }
gateways:
  gateway-a: {}
  gateway-b: {}
replay: { speed: 1x }
`,
  );
  const run = await runParity(['run', join(dir, 'agent.yaml'), '--db', join(dir, 'ws.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 90_000 });
  const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
  expect(runDir, run.stderr).not.toBe('');
  return readReport(runDir);
}

describe('the verdict catches relay-agent faults (a fault-injecting agent written apart, simulated gateways)', () => {
  it('an agent that drops a share of the frames at its ingest, before its copies: NO-GO put on the agent, neither gateway blamed', async () => {
    await withTempDir(async (dir) => {
      const report = await throughFaultAgent(dir, '--drop-ingest 0.08 --seed 3', { ingest: 19176, debug: 19175 });
      const messages = report.findings.map((f) => `${f.severity}: ${f.message}`).join('\n');
      const value = (metric: string, backend: string | null): number | null => report.metrics.find((m) => m.metric === metric && m.backend === backend && m.route === null)?.value ?? null;
      expect(report.verdict, messages).toBe('NO_GO');
      const unreached = value('unreached', null) ?? 0;
      expect(unreached).toBeGreaterThan(8);
      // Both gateways missed exactly those, and nothing of their own.
      expect([value('lost', 'gateway-a'), value('lost', 'gateway-b')]).toEqual([unreached, unreached]);
      expect([value('drop_rate', 'gateway-a'), value('drop_rate', 'gateway-b')]).toEqual([0, 0]);
      expect(messages).toMatch(new RegExp(`critical: agent: share of what was sent that reached no backend [\\d.]+% is critical .*: ${unreached} of 400 frames fed to the agent reached no gateway: lost on the way to the agent or at it`));
      expect(report.findings.filter((f) => f.backend !== null), messages).toEqual([]);
    });
  }, 120_000);

  it('the same agent dropping nothing: GO, so what the first run found is the fault and not the agent itself', async () => {
    await withTempDir(async (dir) => {
      const report = await throughFaultAgent(dir, '', { ingest: 19178, debug: 19177 });
      const messages = report.findings.map((f) => `${f.severity}: ${f.message}`).join('\n');
      expect(report.verdict, messages).toBe('GO');
      expect(report.metrics.find((m) => m.metric === 'unreached' && m.backend === null)?.value).toBe(0);
    });
  }, 120_000);
});
