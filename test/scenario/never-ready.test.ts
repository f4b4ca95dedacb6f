import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPgBin } from '../../src/backends/pg/pg-cluster.ts';
import { commandLine, processes } from '../helpers/process-state.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { listenTcp, type TcpPeer } from '../helpers/tcp-peer.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const SCENARIOS = join(import.meta.dirname, '../../fixtures/scenarios');
const pgReady = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");

afterEach(killAllParity);

const peers: TcpPeer[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) await peer.close();
});

/** A TCP server that takes connections and never says a word: an HTTP readiness URL that never answers. */
async function silentServer(host: string): Promise<number> {
  const peer = await listenTcp(host);
  peers.push(peer);
  return peer.port;
}

/**
 * The system under test is a command that starts and never becomes ready (`sleep`, with a number no other test uses so
 * that its process can be found); the run is given one second for it.
 */
async function runNeverReady(scenario: (sleep: string) => string): Promise<{ code: number | null; stderr: string; sleep: string }> {
  return withTempDir(async (dir) => {
    const sleep = `sleep ${600 + Math.floor(Math.random() * 300)}.5`;
    const file = join(dir, 'never-ready.yaml');
    writeFileSync(file, scenario(sleep));
    const run = await runParity(['run', file, '--db', join(dir, 'run.duckdb'), '--out', join(dir, 'reports')], { timeoutMs: 90_000 });
    return { code: run.code, stderr: run.stderr, sleep };
  });
}

/** The error is one line naming what never happened and the deadline, the command under test is stopped, and the run fails. */
function expectNeverReady(result: { code: number | null; stderr: string; sleep: string }, what: RegExp): void {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stderr).toMatch(what);
  expect(result.stderr).toMatch(/within 1 s \(ready_timeout; its output: \S+\)/);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(processes().filter((pid) => commandLine(pid) === result.sleep)).toEqual([]);
}

describe('a system under test that never becomes ready, given ready_timeout: 1s', () => {
  it('UDP: a relay whose ready_url takes the connection and never answers', async () => {
    const port = await silentServer('127.0.93.9');
    const go = readFileSync(join(SCENARIOS, 'go.yaml'), 'utf8');
    const result = await runNeverReady((sleep) =>
      go
        .replace('../fleet-calamp.pcap', join(SCENARIOS, '../fleet-calamp.pcap'))
        .replace(/relay:\n {2}builtin: .*\n/, `relay:\n  external: { address: 127.0.93.1, command: "${sleep}", ready_url: "http://127.0.93.9:${port}/ready", ready_timeout: 1s }\n`),
    );
    expectNeverReady(result, /relay under test never became ready at http:\/\/127\.0\.93\.9:\d+\/ready within 1 s/);
  }, 120_000);

  it('UDP: a relay that never binds its route ports', async () => {
    const go = readFileSync(join(SCENARIOS, 'go.yaml'), 'utf8');
    const result = await runNeverReady((sleep) =>
      go
        .replace('../fleet-calamp.pcap', join(SCENARIOS, '../fleet-calamp.pcap'))
        .replace(/relay:\n {2}builtin: .*\n/, `relay:\n  external: { address: 127.0.93.2, command: "${sleep}", ready_after: 100ms, ready_timeout: 1s }\n`),
    );
    expectNeverReady(result, /relay under test never bound UDP 127\.0\.93\.2:[\d,]+ within 1 s/);
  }, 120_000);

  it('HTTP: a shadowing proxy that never answers', async () => {
    const demo = readFileSync(join(SCENARIOS, 'http-demo.yaml'), 'utf8');
    const result = await runNeverReady((sleep) => demo.replace('builtin: { shadow_timeout: 2s }', `external: { command: "${sleep}", port: 18193, ready_timeout: 1s }`));
    expectNeverReady(result, /the proxy under test never answered at http:\/\/[\d.]+:18193 within 1 s/);
  }, 120_000);

  it('WebSocket: a relay agent whose ingest never takes a WebSocket', async () => {
    const demo = readFileSync(join(SCENARIOS, 'ws-demo.yaml'), 'utf8');
    const result = await runNeverReady((sleep) => demo.replace('agent: { mode: parallel, sample_rate: 5% }', `agent:\n  external: { command: "${sleep}", ingest_port: 19194, debug_port: 19195, ready_timeout: 1s }`));
    expectNeverReady(result, /the relay agent under test never took a WebSocket at ws:\/\/127\.0\.0\.1:19194 within 1 s/);
  }, 120_000);

  it.runIf(pgReady)('Postgres: a mirroring pooler that never accepts a connection', async () => {
    const demo = readFileSync(join(SCENARIOS, 'pg-demo.yaml'), 'utf8');
    const result = await runNeverReady((sleep) => demo.replace('pooler: { mirror_exposure: 100%, mirror_queue: 1000, mirror_timeout: 5s }', `pooler:\n  external: { command: "${sleep}", port: 16196, metrics_port: 19197, ready_timeout: 1s }`));
    expectNeverReady(result, /the pooler under test never accepted a connection at [\d.]+:16196 within 1 s/);
  }, 120_000);

  it('an external system that exits before it is ready is named as such, with its exit code and its last words', async () => {
    const demo = readFileSync(join(SCENARIOS, 'http-demo.yaml'), 'utf8');
    const result = await runNeverReady(() => demo.replace('builtin: { shadow_timeout: 2s }', 'external: { command: "echo no such upstream >&2; exit 3", port: 18198 }'));
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).toMatch(/^parity: proxy under test exited \(code 3\) before it was ready; last lines of \S+proxy\.log: no such upstream$/m);
  }, 120_000);

  it('a command that ends at once with success is taken for a server that went to the background, and refused by name', async () => {
    const demo = readFileSync(join(SCENARIOS, 'http-demo.yaml'), 'utf8');
    const result = await runNeverReady(() => demo.replace('builtin: { shadow_timeout: 2s }', 'external: { command: "echo started in the background", port: 18199 }'));
    expect(result.code, result.stderr).not.toBe(0);
    expect(result.stderr).toMatch(/proxy under test exited \(code 0\) before it was ready \(a command must stay in the foreground while the run lasts: .*daemon off;.*\); last lines of \S+: started in the background$/m);
  }, 120_000);
});
