import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { findPgBin, findPgProgram, startPgCluster, type PgCluster } from '../src/backends/pg/pg-cluster.ts';
import { importPgCsvlog } from '../src/capture/pg/import-csvlog.ts';
import { replayPgCapture } from '../src/replay/pg/pg-replay.ts';
import { importCaptures } from '../src/capture/import-capture.ts';
import { Store } from '../src/store/store.ts';
import { commandExists, fmtRate, printRows } from './bench-util.ts';
import { corePlan, onCpus, pinApart, unpin } from './cpu-pinning.ts';
import { TcpCaptureWriter } from './tcp-capture-writer.ts';

const PARITY_BIN = join(import.meta.dirname, '../src/cli/parity.js');
const STATEMENTS = Number(process.env.BENCH_PG_STATEMENTS ?? 100_000);
const PER_SESSION = 100;

/** A server message: type byte, length, body. */
function backend(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function dataRow(fields: string[]): Buffer {
  const parts = fields.map((f) => {
    const value = Buffer.from(f);
    const length = Buffer.alloc(4);
    length.writeInt32BE(value.length, 0);
    return Buffer.concat([length, value]);
  });
  const count = Buffer.alloc(2);
  count.writeInt16BE(fields.length, 0);
  return backend('D', Buffer.concat([count, ...parts]));
}

/**
 * `npm run bench -- pg-import`: PostgreSQL sessions read out of a generated pcap of 100,000 statements (sessions of
 * 100 extended-protocol statements each: Parse, Bind with two parameters, Describe, Execute, Sync, answered with two
 * rows), imported into DuckDB, against Wireshark's PostgreSQL dissector on the same file (`tshark -Y pgsql`), in the
 * same run.
 */
export async function benchPgImport(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-pg-import-'));
  try {
    const file = join(dir, 'pg.pcap');
    const capture = new TcpCaptureWriter();
    const server = 0x7f006401;
    const ready = backend('Z', Buffer.from('I'));
    const answer = Buffer.concat([backend('1'), backend('2'), backend('T', Buffer.from([0, 0])), dataRow(['1', 'acme']), dataRow(['2', 'north']), backend('C', Buffer.from('SELECT 2\u0000')), ready]);
    for (let s = 0; s * PER_SESSION < STATEMENTS; s++) {
      capture.connection(0x7f650000 + (s % 60_000) + 1, server, 20_000 + (s % 40_000), 5432, (send) => {
        send(true, serialize.startup({ user: 'app', database: 'billing' }));
        send(false, Buffer.concat([backend('R', Buffer.from([0, 0, 0, 0])), ready]));
        for (let i = 0; i < PER_SESSION && s * PER_SESSION + i < STATEMENTS; i++) {
          send(true, Buffer.concat([serialize.parse({ text: 'SELECT id, customer FROM orders WHERE customer = $1 AND cents > $2', types: [] }), serialize.bind({ values: [`cust-${s}`, String(i)] }), serialize.describe({ type: 'P' }), serialize.execute(), serialize.sync()]));
          send(false, answer);
        }
      });
    }
    capture.write(file);
    process.stdout.write(`Postgres import benchmark: ${STATEMENTS.toLocaleString('en-US')} statements, ${capture.frames.toLocaleString('en-US')} frames, ${(statSync(file).size / 1e6).toFixed(0)} MB\n`);
    const rows: (string | number)[][] = [];
    let tsharkRate: number | undefined;
    if (commandExists('tshark')) {
      const started = process.hrtime.bigint();
      const run = spawnSync('tshark', ['-r', file, '-d', 'tcp.port==5432,pgsql', '-Y', 'pgsql.type == "Execute"', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      tsharkRate = STATEMENTS / seconds;
      rows.push(['tshark -Y pgsql', fmtRate(tsharkRate), seconds.toFixed(2), run.stdout.split('\n').filter(Boolean).length.toLocaleString('en-US'), '1.0x']);
    } else {
      process.stdout.write('tshark not on PATH: its baseline is not measured\n');
    }
    const store = await Store.open(join(dir, 'pg.duckdb'));
    try {
      const started = process.hrtime.bigint();
      const result = await importCaptures(store, { files: [file], name: 'pg' });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const rate = STATEMENTS / seconds;
      rows.push(['parity import (into DuckDB)', fmtRate(rate), seconds.toFixed(2), (result.captures[0]?.pgStatements ?? 0).toLocaleString('en-US'), tsharkRate === undefined ? '-' : `${(rate / tsharkRate).toFixed(1)}x`]);
    } finally {
      store.close();
    }
    printRows('PostgreSQL statements per second read out of TCP (higher is better)', ['what', 'statements/s', 'seconds', 'statements found', 'vs tshark'], rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const REPLAY_SESSIONS = 8;
const REPLAY_PER_SESSION = Number(process.env.BENCH_PG_REPLAY_PER_SESSION ?? 2500);

/**
 * `npm run bench -- pg-replay`: statements per second from 8 sessions as fast as each is answered, straight to a
 * temporary PostgreSQL, and through the reference mirroring pooler with mirroring off and on (to a second one): what
 * the pooler costs the live path, in the same run.
 */
export async function benchPgReplay(): Promise<void> {
  if (findPgBin() === undefined) {
    process.stdout.write("Postgres replay benchmark skipped: Debian's postgresql package is not installed\n");
    return;
  }
  const [primary, mirror] = await Promise.all([startPgCluster({ host: '127.0.97.1', port: 15_471 }), startPgCluster({ host: '127.0.97.2', port: 15_472 })]);
  try {
    for (const db of [primary, mirror]) {
      const client = new pg.Client({ connectionString: db.url() });
      await client.connect();
      await client.query('CREATE TABLE readings (id bigint PRIMARY KEY, device text, value int)');
      await client.end();
    }
    const rows: (string | number)[][] = [];
    let direct: number | undefined;
    const measure = async (label: string, host: string, port: number, offset: number): Promise<number> => {
      const clients = await Promise.all(Array.from({ length: REPLAY_SESSIONS }, async () => {
        const client = new pg.Client({ host, port, user: 'postgres', database: 'postgres' });
        await client.connect();
        return client;
      }));
      const latencies: number[] = [];
      const started = process.hrtime.bigint();
      await Promise.all(clients.map(async (client, s) => {
        for (let i = 0; i < REPLAY_PER_SESSION; i++) {
          const t = process.hrtime.bigint();
          if (i % 2 === 0) await client.query('INSERT INTO readings VALUES ($1, $2, $3)', [offset + s * 1_000_000 + i, `dev-${s}`, i]);
          else await client.query('SELECT count(*) FROM readings WHERE device = $1', [`dev-${s}`]);
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await Promise.all(clients.map((c) => c.end()));
      const total = REPLAY_SESSIONS * REPLAY_PER_SESSION;
      const rate = total / seconds;
      latencies.sort((a, b) => a - b);
      const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
      direct ??= rate;
      rows.push([label, fmtRate(rate), seconds.toFixed(2), `${p99.toFixed(2)} ms`, `${(rate / direct).toFixed(2)}x`]);
      return rate;
    };
    await measure('straight to PostgreSQL', primary.host, primary.port, 0);
    // The pooler as it is run: a process of its own (`parity pg-pooler`), not sharing the clients' event loop.
    for (const [label, mirrorTo, offset, port] of [['through the pooler, mirroring off', null, 10_000_000_000, 16_431], ['through the pooler, mirroring on', `${mirror.host}:${mirror.port}`, 20_000_000_000, 16_432]] as const) {
      const pooler = await startPooler(['--listen', `127.0.97.3:${port}`, '--primary', `${primary.host}:${primary.port}`, ...(mirrorTo === null ? [] : ['--mirror', mirrorTo]), '--queue', '100000', '--metrics-port', String(port + 100)]);
      try {
        await measure(label, '127.0.97.3', port, offset);
      } finally {
        await stopPooler(pooler);
      }
    }
    printRows(`PostgreSQL statements per second, ${REPLAY_SESSIONS} sessions each waiting for its answer (higher is better)`, ['path', 'statements/s', 'seconds', 'client p99', 'vs straight'], rows);
    await replayAgainstPgbench(primary);
  } finally {
    await Promise.all([primary.stop(), mirror.stop()]);
  }
}

const PGBENCH_CLIENTS = 16;
const PGBENCH_SECONDS = 5;
const LOOKUPS_PER_SESSION = Number(process.env.BENCH_PG_LOOKUPS_PER_SESSION ?? 4000);

/**
 * The replayer against pgbench (Debian's, from the postgresql package) on the same statement, a primary-key lookup
 * with 16 clients, straight to the database and through the reference pooler: pgbench with and without prepared
 * statements, and `parity replay` of a csvlog of the same lookups (16 sessions, every statement recorded) at max speed.
 * Through the pooler twice: everything sharing every core, then the server side (the pooler and PostgreSQL) on a core
 * of its own and the clients on the others, as a replay host and a database host are separate machines.
 */
async function replayAgainstPgbench(primary: PgCluster): Promise<void> {
  const pgbenchPath = findPgProgram('pgbench');
  if (pgbenchPath === undefined) {
    process.stdout.write('pgbench not found: the replay-against-pgbench table is skipped\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-pgbench-'));
  const setup = new pg.Client({ connectionString: primary.url() });
  await setup.connect();
  await setup.query('CREATE TABLE IF NOT EXISTS lookups (id int PRIMARY KEY, value int)');
  await setup.query('INSERT INTO lookups SELECT g, g * 7 FROM generate_series(1, 100000) g ON CONFLICT DO NOTHING');
  await setup.end();
  const script = join(dir, 'lookup.sql');
  writeFileSync(script, '\\set id random(1, 100000)\nSELECT value FROM lookups WHERE id = :id;\n');
  const log = join(dir, 'lookups.csv');
  writeLookupLog(log, PGBENCH_CLIENTS, LOOKUPS_PER_SESSION);
  const pooler = await startPooler(['--listen', '127.0.97.3:16433', '--primary', `${primary.host}:${primary.port}`, '--metrics-port', '16533']);
  try {
    const store = await Store.open(join(dir, 'replay.duckdb'));
    const rows: (string | number)[][] = [];
    try {
      await importPgCsvlog(store, log, { name: 'lookups' });
      const plan = corePlan();
      const postmaster = Number(readFileSync(join(primary.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const paths = [
        { path: 'straight', host: primary.host, port: primary.port, pinned: false },
        { path: 'through the pooler', host: '127.0.97.3', port: 16_433, pinned: false },
        ...(plan === undefined ? [] : [{ path: `through the pooler; the clients on CPU ${plan.others}, the pooler and PostgreSQL on CPU ${plan.own}`, host: '127.0.97.3', port: 16_433, pinned: true }]),
      ];
      for (const { path, host, port, pinned } of paths) {
        // Pinned as a replay host and a database host are separate machines: the server side (the pooler, and the
        // postmaster, whose backends inherit its CPU when they are forked per connection) alone on one core.
        if (pinned && !pinApart([postmaster, pooler.pid as number], [process.pid])) continue;
        try {
          const pgbench = (mode: 'simple' | 'extended' | 'prepared'): number => {
            const [binary, args] = onCpus(pgbenchPath, ['-n', '-h', host, '-p', String(port), '-U', 'postgres', '-c', String(PGBENCH_CLIENTS), '-j', '2', '-T', String(PGBENCH_SECONDS), '-M', mode, '-f', script, 'postgres'], pinned ? plan?.others : undefined);
            const run = spawnSync(binary, args, { encoding: 'utf8' });
            return Number(/tps = ([\d.]+)/.exec(run.stdout)?.[1] ?? 0);
          };
          const simple = pgbench('simple');
          const extended = pgbench('extended');
          const prepared = pgbench('prepared');
          const replayPlan = { pace: { kind: 'max' as const }, loops: 1, durationMs: undefined, sample: 1, seed: 1 };
          const replayed = await replayPgCapture({ store, capture: 'lookups', target: { host, port }, plan: replayPlan, runName: `lookups-${rows.length}` });
          const rate = replayed.stats.achievedRate ?? 0;
          rows.push([path, fmtRate(simple), fmtRate(extended), fmtRate(prepared), `${fmtRate(rate)} (${replayed.stats.sent.toLocaleString('en-US')} recorded)`, `${(rate / extended).toFixed(2)}x`]);
        } finally {
          if (pinned) unpin([postmaster, pooler.pid as number, process.pid]);
        }
      }
    } finally {
      store.close();
    }
    printRows(`A primary-key lookup, ${PGBENCH_CLIENTS} clients (statements/s, higher is better)`, ['path', 'pgbench', 'pgbench -M extended', 'pgbench -M prepared', 'parity replay', 'replay vs pgbench -M extended'], rows);
  } finally {
    await stopPooler(pooler);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A csvlog of `sessions` sessions of primary-key lookups, as PostgreSQL logs them with every statement logged. */
function writeLookupLog(file: string, sessions: number, perSession: number): void {
  const lines: string[] = [];
  let id = 0;
  for (let s = 0; s < sessions; s++) {
    for (let i = 0; i < perSession; i++) {
      const time = new Date(Date.UTC(2026, 0, 5, 9, 0, 0) + i).toISOString().replace('T', ' ').replace('Z', ' UTC');
      const key = ((id++ * 7919) % 100_000) + 1;
      lines.push(`${time},"postgres","postgres",${9000 + s},"10.1.0.${s + 1}:4000${s}",6b0a.${s},${i + 1},"SELECT",,${s}/${i},0,LOG,00000,"execute <unnamed>: SELECT value FROM lookups WHERE id = $1","parameters: $1 = '${key}'",,,,,,,,"","client backend",,0`);
    }
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

type Pooler = ChildProcessByStdio<null, null, Readable>;

/** `parity pg-pooler ARGS` as a process of its own, once it says it is listening. */
async function startPooler(args: readonly string[]): Promise<Pooler> {
  const pooler = spawn(process.execPath, [PARITY_BIN, 'pg-pooler', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    pooler.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('listening on')) resolve();
    });
    pooler.once('exit', () => reject(new Error(`parity pg-pooler exited: ${err}`)));
  });
  return pooler;
}

async function stopPooler(pooler: Pooler): Promise<void> {
  pooler.kill('SIGINT');
  await new Promise((resolve) => pooler.once('exit', resolve));
}
