import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { str, withStore } from '../../src/store/store.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/**
 * A service of our own making for this test, not the project's simulated backend: it answers an invoice with its
 * total, an id of its own and the time; `version: 2` rounds totals to whole euros, as a new version that differs would.
 */
function startService(host: string, port: number, version: 1 | 2): Promise<Server> {
  let served = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const lines = text === '' ? [] : ((JSON.parse(text) as { lines?: { quantity: number; cents: number }[] }).lines ?? []);
      const total = lines.reduce((sum, line) => sum + line.quantity * line.cents, 0);
      const body = JSON.stringify({ path: req.url, total: version === 2 ? Math.round(total / 100) * 100 : total, id: `${host}-${served++}`, at: process.hrtime.bigint().toString() });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

describe('an HTTP scenario judging real services through recording taps', () => {
  it('the A/A run against a second instance of live cancels ids and times; the new version\'s rounded totals are a NO-GO', async () => {
    await withTempDir(async (dir) => {
      await startService('127.0.87.1', 18087, 1);
      await startService('127.0.87.2', 18087, 2);
      await startService('127.0.87.3', 18087, 1);
      writeFileSync(
        join(dir, 'real.yaml'),
        `name: real-services
protocol: http
traffic:
  generate: { requests: 200, mean_gap: 5ms, seed: 5 }
backends:
  live: { external: http://127.0.87.1:18087 }
  shadow: { external: http://127.0.87.2:18087 }
  aa: { external: http://127.0.87.3:18087 }
calibrate: { shadow_conditions: false }
replay: { speed: 1x }
`,
      );
      const db = join(dir, 'real.duckdb');
      const run = await runParity(['run', join(dir, 'real.yaml'), '--db', db, '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 90_000 });
      const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
      const report = readReport(runDir);
      expect(report.verdict, run.stderr).toBe('NO_GO');
      const fields = report.responseFields ?? [];
      expect(fields.find((f) => f.field === 'id')).toMatchObject({ counted: false, excused: 'noise' });
      expect(fields.find((f) => f.field === 'at')).toMatchObject({ counted: false, excused: 'noise' });
      expect(fields.find((f) => f.field === 'total')).toMatchObject({ counted: true });
      const messages = report.findings.map((f) => f.message);
      expect(messages.some((m) => /^shadow: response mismatch rate .* field total differs/.test(m)), messages.join('\n')).toBe(true);
      // Both legs were observed by their taps: everything the proxy sent reached each service whole.
      expect(report.metrics.filter((m) => m.metric === 'body_mismatch_rate').map((m) => [m.backend, m.value])).toEqual([
        ['live', 0],
        ['shadow', 0],
      ]);
      expect(report.tested.topology.backends.map((b) => [b.role, b.observation])).toEqual([
        ['live', 'tap'],
        ['shadow', 'tap'],
      ]);
      await withStore(db, async (store) => {
        const [row] = await store.query("SELECT count(DISTINCT request_id) AS ids FROM http_receipts r JOIN runs USING (run_id) WHERE runs.name = $name AND backend = 'shadow'", { name: report.run });
        expect(str(String(row?.ids))).toBe('200');
      });
    });
  }, 120_000);
});
