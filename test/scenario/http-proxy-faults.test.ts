import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

const FAULT_PROXY = join(import.meta.dirname, '../peers/fault-proxy.mjs');

describe('the verdict catches shadowing-proxy faults (a fault-injecting proxy written apart, simulated backends)', () => {
  it('a proxy that answers a tenth of the requests itself, sending them nowhere: NO-GO put on the proxy, neither backend blamed', async () => {
    await withTempDir(async (dir) => {
      writeFileSync(
        join(dir, 'refusing.yaml'),
        `name: refusing-proxy
protocol: http
traffic:
  generate: { requests: 300, mean_gap: 3ms, seed: 12 }
proxy:
  external: { command: exec "${process.execPath}" "${FAULT_PROXY}" --refuse 0.1, port: 18097 }
backends:
  live: { latency: 2ms }
  shadow: { latency: 2ms }
calibrate: { shadow_conditions: false }
replay: { speed: 1x }
`,
      );
      const run = await runParity(['run', join(dir, 'refusing.yaml'), '--db', join(dir, 'r.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 120_000 });
      const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
      const report = readReport(runDir);
      const messages = report.findings.map((f) => `${f.severity}: ${f.message}`).join('\n');
      const value = (metric: string, backend: string | null): number | null => report.metrics.find((m) => m.metric === metric && m.backend === backend && m.route === null)?.value ?? null;
      expect(report.verdict, messages).toBe('NO_GO');
      const unreached = value('unreached', null) ?? 0;
      expect(unreached).toBeGreaterThan(0);
      // Both backends missed exactly those: no drop rate of their own.
      expect([value('lost', 'live'), value('lost', 'shadow')]).toEqual([unreached, unreached]);
      expect([value('drop_rate', 'live'), value('drop_rate', 'shadow')]).toEqual([0, 0]);
      expect(messages).toMatch(new RegExp(`critical: proxy: share of what was sent that reached no backend [\\d.]+% is critical .*: ${unreached} of 300 requests the client sent reached no backend: lost on the way to the proxy or at it`));
      // Neither is blamed for what it never got (what a busy machine does to latencies is judged apart).
      expect(report.findings.filter((f) => f.backend !== null && (f.metric === 'drop_rate' || f.metric === 'drift' || f.metric === 'delivered')), messages).toEqual([]);
    });
  }, 150_000);
});
