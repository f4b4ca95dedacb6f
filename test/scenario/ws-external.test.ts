import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { num, str, withStore } from '../../src/store/store.ts';
import { killAllParity, PARITY_BIN, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readReport } from '../helpers/report-file.ts';

afterEach(killAllParity);

/**
 * Real gateways and a real agent, as a team would bring them: the gateways are `parity gateway` processes the run does
 * not record from (gateway B loses 3% of frames inside itself, after its socket took them), the agent is
 * `parity relay-agent` run by the scenario's command from the fan-out spec's variables, configured by the control
 * plane. The run sees the gateways only through recording taps and their own diagnostics.
 */
describe('a WebSocket run through an external agent to real gateways', () => {
  it('taps in front of the gateways, the agent driven by its variables and the control plane; a gateway that loses frames inside is a NO-GO by its own diagnostics', async () => {
    await withTempDir(async (dir) => {
      const a = spawnParity(['gateway', '--listen', '127.0.89.2:19102', '--name', 'gateway-a', '--duration', '60s']);
      const b = spawnParity(['gateway', '--listen', '127.0.89.3:19103', '--name', 'gateway-b', '--loss', '3%', '--seed', '5', '--duration', '60s']);
      for (const gateway of [a, b]) expect(await gateway.waitForOutput((_out, err) => err.includes('listening on'), 15_000), gateway.stderr()).toBe(true);
      const scenario = join(dir, 'external.yaml');
      writeFileSync(
        scenario,
        [
          'name: external',
          'protocol: ws',
          'traffic:',
          '  generate: { sessions: 2, streams: [baseline], rate: 50hz, duration: 6s, seed: 4 }',
          'agent:',
          '  mode: parallel',
          '  sample_rate: 10%',
          '  control_plane: true',
          `  external: { command: "${process.execPath} ${PARITY_BIN} relay-agent", ingest_port: 19166, debug_port: 19165 }`,
          'gateways:',
          '  gateway-a: { external: ws://127.0.89.2:19102/relay, diagnostics: http://127.0.89.2:19102 }',
          '  gateway-b: { external: ws://127.0.89.3:19103/relay, diagnostics: http://127.0.89.3:19103 }',
          'replay: { speed: 2x }',
          'timeline:',
          '  - { at: 1500ms, primary: 1 }',
          // What a busy machine does to the agent's ACK latency is not what this run is about (a gateway's own loss).
          'thresholds:',
          '  ack_latency_p95_ms: { warning: 1000, critical: 5000 }',
          'expect: { verdict: NO_GO }',
          '',
        ].join('\n'),
      );
      const result = await runParity(['run', scenario, '--db', join(dir, 'ws.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 90_000 });
      expect(result.code, result.stderr).toBe(1);
      const runDir = /reports: (.+)/.exec(result.stderr)?.[1]?.trim() ?? '';
      const report = readReport(runDir);
      expect(report.verdict).toBe('NO_GO');
      const messages = report.findings.map((f) => `${f.severity}: ${f.message}`);
      expect(messages.some((m) => /^critical: gateway-b: its own diagnostics say it processed [\d,]+ frames of the 600 its connection took \(\/api\/dev\/diagnostics\/parity\): [\d,]+ lost inside the gateway$/.test(m)), messages.join('\n')).toBe(true);
      expect(messages.filter((m) => m.includes('gateway-a')), messages.join('\n')).toEqual([]);
      // The agent ran as its own process, configured from its variables and then the control plane.
      expect(readFileSync(join(runDir, 'agent.log'), 'utf8')).toContain('configured by the control plane at ws://127.0.0.1:');
      await withStore(join(dir, 'ws.duckdb'), async (store) => {
        const receipts = await store.query('SELECT gateway, count(DISTINCT (session_id, stream, seq)) AS n FROM ws_receipts GROUP BY gateway ORDER BY gateway');
        expect(receipts.map((r) => [str(r.gateway), num(r.n)])).toEqual([['gateway-a', 600], ['gateway-b', 600]]);
        const said = await store.query("SELECT gateway, sum(frames_in) AS n FROM ws_gateway_diagnostics WHERE stream <> '*' GROUP BY gateway ORDER BY gateway");
        expect(num(said[0]?.n)).toBe(600);
        expect(num(said[1]?.n)).toBeLessThan(600);
        const topology = JSON.parse(str((await store.query('SELECT topology FROM runs'))[0]?.topology)) as { controlPlane: { final: { version: string; source: string } }; timeline: { label: string }[] };
        expect(topology.controlPlane.final).toMatchObject({ version: '2', source: 'control_plane' });
        expect(topology.timeline.map((t) => t.label.replace(/published at [\d.]+ s/, 'published'))).toEqual(['primary 1 (v2, published)']);
      });
      await a.stop('SIGINT');
      await b.stop('SIGINT');
    });
  }, 120_000);
});

describe('an external agent whose debug server takes requests and never answers', () => {
  it('fails the run in bounded time, naming the endpoint, instead of holding it', async () => {
    await withTempDir(async (dir) => {
      // The "agent": a WebSocket ingest that takes frames, and a debug port that accepts and says nothing.
      const agent = join(dir, 'silent-agent.mjs');
      const ws = join(import.meta.dirname, '../../node_modules/ws/wrapper.mjs');
      writeFileSync(
        agent,
        [
          `import { WebSocketServer } from ${JSON.stringify(ws)};`,
          "import net from 'node:net';",
          "new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.RELAY_INGEST_PORT) }).on('connection', (s) => s.on('error', () => {}));",
          "net.createServer((s) => s.on('error', () => {})).listen(Number(process.env.RELAY_DEBUG_PORT), '127.0.0.1');",
          '',
        ].join('\n'),
      );
      const scenario = join(dir, 'silent.yaml');
      writeFileSync(
        scenario,
        [
          'name: silent',
          'protocol: ws',
          'traffic:',
          '  generate: { sessions: 1, streams: [baseline], rate: 20hz, duration: 1s, seed: 4 }',
          'agent:',
          // Ports of its own: another file's scenario runs beside this one.
          `  external: { command: "${process.execPath} ${agent}", ingest_port: 19186, debug_port: 19185 }`,
          'gateways:',
          '  gateway-a: {}',
          'replay: { speed: 1x }',
          '',
        ].join('\n'),
      );
      const started = Date.now();
      const result = await runParity(['run', scenario, '--db', join(dir, 'ws.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { timeoutMs: 90_000 });
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.stderr).toMatch(/the relay agent under test did not answer \/debug\/\S+ \(.*\): the fan-out spec's debug endpoints are how a run reads it/);
    });
  }, 120_000);
});
