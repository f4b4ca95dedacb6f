import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { printRows } from './bench-util.ts';
import { cpuSeconds } from './cpu-pinning.ts';

const PARITY = join(import.meta.dirname, '../src/cli/parity.js');
const FRAMES = Number(process.env.BENCH_WS_FRAMES ?? 100_000);

/**
 * `npm run bench -- ws-fanout`: frames through the reference relay agent (a `parity relay-agent` process) to 2 and to 8
 * gateway processes, fed as fast as the agent takes them: frames a second delivered to every gateway, and the agent's
 * CPU per frame, read from /proc; then `parity run` of a generated telemetry scenario at 1k and 10k frames a second
 * for the replay's lateness as it drives the agent.
 */
export async function benchWsFanout(): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const gateways of [2, 8]) rows.push(await throughput(gateways));
  printRows(`frames through the relay agent, fed as fast as it takes them (${FRAMES.toLocaleString('en-US')} frames, parallel mode, 5% asking for an ack)`, ['gateways', 'frames/s to every gateway', 'delivered', 'agent CPU per frame', 'frames per agent core-second'], rows);
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-ws-'));
  try {
    const lateness: (string | number)[][] = [];
    for (const rate of [1000, 10_000]) lateness.push(replayLateness(dir, rate));
    printRows('replay into the relay agent (parity run, 2 gateways; lateness = actual - scheduled send time)', ['asked', 'achieved', 'frames', 'late p50 µs', 'late p99 µs', 'late max µs', 'verdict'], lateness);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(count: number): Promise<(string | number)[]> {
  const children: ChildProcess[] = [];
  try {
    const urls: string[] = [];
    for (let i = 0; i < count; i++) {
      const listen = `127.0.84.${2 + i}:18400`;
      children.push(await started(['gateway', '--listen', listen, '--name', `gateway-${i}`, '--json'], {}, 'listening'));
      urls.push(`ws://${listen}/relay`);
    }
    const agent = await started(['relay-agent', '--json'], { RELAY_BACKENDS: urls.join(','), RELAY_BACKEND_MODE: 'parallel', RELAY_DEBUG_PORT: '18401', RELAY_INGEST_PORT: '18402', RELAY_QUEUE_LIMIT: String(FRAMES) }, 'ingest');
    children.push(agent);
    await until(async () => ((await debugJson('/debug/health')) as { status?: string }).status === 'healthy', 10_000);
    const feed = new WebSocket('ws://127.0.0.1:18402');
    await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
    const cpuBefore = cpuSeconds(agent.pid as number);
    const started_ = performance.now();
    for (let seq = 0; seq < FRAMES; seq++) {
      feed.send(JSON.stringify({ sessionId: 'sess_1', stream: 'baseline', seq, ts: seq, speed: 200, rpm: 8000 }));
      // Let the socket drain now and then, as a real producer would: the ingest is not a buffer of the whole run.
      if (feed.bufferedAmount > 4 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const sentTotal = (): Promise<number> => debugJson('/debug/parity').then((p) => (p as { totalSent: number }).totalSent);
    await until(async () => (await sentTotal()) >= FRAMES * count, 120_000);
    const seconds = (performance.now() - started_) / 1000;
    const cpu = cpuSeconds(agent.pid as number) - cpuBefore;
    feed.close();
    const delivered = await sentTotal();
    return [count, Math.round(FRAMES / seconds).toLocaleString('en-US'), `${delivered.toLocaleString('en-US')} / ${(FRAMES * count).toLocaleString('en-US')}`, `${((cpu / FRAMES) * 1e6).toFixed(1)} µs`, Math.round(FRAMES / cpu).toLocaleString('en-US')];
  } finally {
    for (const child of children.reverse()) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

function replayLateness(dir: string, rate: number): (string | number)[] {
  // 4 sessions x 2 streams at rate / 8 Hz each, 10 s, replayed at its own pace.
  const file = join(dir, `ws-${rate}.yaml`);
  writeFileSync(file, `name: bench-ws-${rate}\nprotocol: ws\ntraffic:\n  generate: { sessions: 4, streams: [baseline, controls], rate: ${rate / 8}hz, duration: 10s, seed: 1 }\nagent: { mode: parallel, sample_rate: 5%, queue_limit: 100000 }\ngateways:\n  gateway-a: {}\n  gateway-b: {}\nreplay: { speed: 1x }\n`);
  const run = spawnSync(process.execPath, [PARITY, 'run', file, '--db', join(dir, 'ws.duckdb'), '--out', join(dir, 'reports'), '--format', 'json'], { encoding: 'utf8' });
  const runDir = /reports: (.+)/.exec(run.stderr)?.[1]?.trim() ?? '';
  const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as { verdict: string; metrics: { metric: string; backend: string | null; value: number | null }[] };
  const value = (name: string): number => report.metrics.find((m) => m.metric === name && m.backend === null)?.value ?? 0;
  return [`${rate.toLocaleString('en-US')} frames/s`, Math.round(value('replay_achieved_rate_pps')).toLocaleString('en-US'), Math.round(value('sent')).toLocaleString('en-US'), Math.round(value('replay_lateness_p50_us')), Math.round(value('replay_lateness_p99_us')), Math.round(value('replay_lateness_max_us')), report.verdict];
}

async function started(args: string[], env: Record<string, string>, word: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [PARITY, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await until(async () => err.includes(word), 10_000);
  return child;
}

async function debugJson(path: string): Promise<unknown> {
  try {
    return await (await fetch(`http://127.0.0.1:18401${path}`)).json();
  } catch {
    return {};
  }
}

async function until(condition: () => Promise<boolean>, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`bench ws-fanout: a condition was not met in ${maxMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
