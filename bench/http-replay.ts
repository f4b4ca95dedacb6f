import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { writeHttpTraffic } from '../src/synthetic/http-traffic.ts';
import { commandExists, printRows } from './bench-util.ts';

const PARITY = join(import.meta.dirname, '../src/cli/parity.js');
/** Requests per measured run: 20 s at 5k req/s, and enough at 1k for its tail to show. */
const REQUESTS = Number(process.env.BENCH_HTTP_REQUESTS ?? 100_000);
const CONNECTIONS = 64;

interface SenderFigures {
  achieved: number;
  lateP50Us: number;
  lateP99Us: number;
  lateMaxUs: number;
}

interface Target {
  name: string;
  url: string;
  stop(): Promise<void>;
}

/**
 * `npm run bench -- http-replay`: `parity replay --proxy` against two targets, beside a C client doing the same job
 * (bench/native/http-floor.c: fixed rate to absolute deadlines, at most 64 kept-alive connections with one request in
 * flight each, lateness counted the same way, a wait for a free connection included). Targets: nginx answering a fixed
 * body (a target that costs next to nothing, so the figures are the senders'), and the reference shadowing proxy with
 * its live and shadow backends as processes (what a scenario drives). Each target is warmed up first.
 */
export async function benchHttpReplay(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-http-'));
  const har = join(dir, 'billing.har');
  writeHttpTraffic(har, { requests: REQUESTS, meanGapMs: 1, seed: 1 });
  const db = join(dir, 'bench.duckdb');
  spawnSync(process.execPath, [PARITY, 'import', har, '--db', db], { stdio: 'ignore' });
  const floor = buildFloor(dir);
  const targets: (() => Promise<Target | undefined>)[] = [() => startNginx(dir), () => startReferenceProxy()];
  try {
    for (const start of targets) {
      const target = await start();
      if (target === undefined) continue;
      try {
        if (floor !== undefined) runFloor(floor, target.url, 0, Math.min(REQUESTS, 20_000));
        else spawnSync(process.execPath, [PARITY, 'replay', 'billing', '--proxy', target.url, '--speed', 'max', '--db', db, '--duration', '5s'], { stdio: 'ignore' });
        const rows: (string | number)[][] = [];
        for (const rate of [1000, 5000, 0]) {
          const requests = rate === 1000 ? Math.min(REQUESTS, 30_000) : REQUESTS;
          const ours = replayOurs(db, target.url, rate, requests);
          const native = floor === undefined ? undefined : runFloor(floor, target.url, rate, requests);
          rows.push(row(rate, 'parity replay --proxy', ours, native));
          if (native !== undefined) rows.push(row(rate, 'C floor (http-floor.c)', native, native));
        }
        printRows(`HTTP replay into ${target.name} (${CONNECTIONS} connections, ${REQUESTS.toLocaleString('en-US')} requests; lateness = actual - scheduled send time)`, ['asked', 'sender', 'achieved req/s', 'late p50 µs', 'late p99 µs', 'late max µs', 'p99 / floor p99'], rows);
      } finally {
        await target.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(rate: number, sender: string, figures: SenderFigures, floor: SenderFigures | undefined): (string | number)[] {
  const ratio = floor === undefined || rate === 0 ? '-' : `${(figures.lateP99Us / Math.max(floor.lateP99Us, 1)).toFixed(1)}x`;
  const late = (us: number): string | number => (rate === 0 ? '-' : Math.round(us));
  return [rate === 0 ? 'max' : `${rate} req/s`, sender, Math.round(figures.achieved), late(figures.lateP50Us), late(figures.lateP99Us), late(figures.lateMaxUs), ratio];
}

let runNumber = 0;

function replayOurs(db: string, url: string, rate: number, requests: number): SenderFigures {
  const pace = rate === 0 ? ['--speed', 'max'] : ['--rate', `${rate}pps`];
  const run = spawnSync(process.execPath, [PARITY, 'replay', 'billing', '--proxy', url, ...pace, '--connections', String(CONNECTIONS), '--duration', `${Math.ceil(requests / Math.max(rate, 1))}s`, '--run', `bench-${++runNumber}`, '--db', db, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`parity replay failed: ${run.stderr.trim()}`);
  const out = JSON.parse(run.stdout) as { achievedRate: number; lateness: { p50Us: number; p99Us: number; maxUs: number } };
  return { achieved: out.achievedRate, lateP50Us: out.lateness.p50Us, lateP99Us: out.lateness.p99Us, lateMaxUs: out.lateness.maxUs };
}

function buildFloor(dir: string): string | undefined {
  const compiler = ['cc', 'gcc', 'clang'].find(commandExists);
  if (compiler === undefined) {
    process.stdout.write('no C compiler on PATH: the native HTTP floor is not measured\n');
    return undefined;
  }
  const binary = join(dir, 'http-floor');
  const built = spawnSync(compiler, ['-O2', '-o', binary, join(import.meta.dirname, 'native/http-floor.c')], { encoding: 'utf8' });
  if (built.status === 0) return binary;
  process.stdout.write(`http-floor.c did not build: ${built.stderr.trim().split('\n')[0] ?? ''}\n`);
  return undefined;
}

function runFloor(binary: string, url: string, rate: number, requests: number): SenderFigures {
  const { hostname, port } = new URL(url);
  const run = spawnSync(binary, [hostname, port, String(rate), String(requests), String(CONNECTIONS)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`http-floor failed: ${run.stderr.trim()}`);
  const out = JSON.parse(run.stdout) as { achievedRate: number; lateP50Us: number; lateP99Us: number; lateMaxUs: number };
  return { achieved: out.achievedRate, lateP50Us: out.lateP50Us, lateP99Us: out.lateP99Us, lateMaxUs: out.lateMaxUs };
}

/** nginx answering every request with a fixed JSON body: the cheapest real HTTP/1.1 server at hand. */
async function startNginx(dir: string): Promise<Target | undefined> {
  if (!commandExists('nginx')) {
    process.stdout.write('nginx not on PATH: the sender-only figures are not measured\n');
    return undefined;
  }
  const home = join(dir, 'nginx');
  for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(home, temp), { recursive: true });
  const address = '127.0.99.1:18300';
  writeFileSync(
    join(home, 'nginx.conf'),
    `daemon off; master_process off; worker_processes 1; error_log ${home}/error.log; pid ${home}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off; keepalive_requests 1000000;
  client_body_temp_path ${home}/body; proxy_temp_path ${home}/proxy; fastcgi_temp_path ${home}/fastcgi; uwsgi_temp_path ${home}/uwsgi; scgi_temp_path ${home}/scgi;
  server { listen ${address}; location / { default_type application/json; return 200 '{"ok":true}'; } }
}
`,
  );
  const child = spawn('nginx', ['-e', join(home, 'error.log'), '-c', join(home, 'nginx.conf'), '-p', home], { stdio: 'ignore' });
  const url = `http://${address}`;
  await answering(url, [child]);
  return { name: 'nginx (a fixed answer)', url, stop: async () => stopAll([child]) };
}

/** The reference proxy and two simulated backends, each a `parity` process, as a scenario's topology. */
async function startReferenceProxy(): Promise<Target> {
  const spawnParity = (args: string[]): ChildProcess => spawn(process.execPath, [PARITY, ...args], { stdio: 'ignore' });
  const children = [
    spawnParity(['http-backend', '--listen', '127.0.99.12:18301', '--role', 'live']),
    spawnParity(['http-backend', '--listen', '127.0.99.13:18301', '--role', 'shadow']),
    spawnParity(['shadow-proxy', '--listen', '127.0.99.11:18301', '--live', 'http://127.0.99.12:18301', '--shadow', 'http://127.0.99.13:18301']),
  ];
  const url = 'http://127.0.99.11:18301';
  await answering(url, children);
  return { name: 'the reference shadowing proxy (live and shadow backends, 3 processes)', url, stop: async () => stopAll(children) };
}

async function answering(url: string, children: readonly ChildProcess[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await request(url).then((r) => (r.body.dump(), true), () => false);
    if (ok) return;
    if (Date.now() > deadline || children.some((c) => c.exitCode !== null)) {
      await stopAll(children);
      throw new Error(`${url} never answered`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null) return;
      const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.kill('SIGTERM');
      await closed;
    }),
  );
}
