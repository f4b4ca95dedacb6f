import { execFile, spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { HOLD_MS, ReleasedStoreSink, waitForUncommitted } from '../../src/observe/released-store-sink.ts';
import type { Observation } from '../../src/store/observation-writer.ts';
import { Store } from '../../src/store/store.ts';
import { killAllParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

afterEach(killAllParity);

/** Whether process `pid` has `file` open at this moment (its descriptors, from /proc). */
function holdsFile(pid: number, file: string): boolean {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * Another process's look at the store, as `parity analyse --observations` takes it: it tries every 50 ms for up to
 * `waitMs` and says how many observations the store held when it got it, or 'held' if it never did. A plain DuckDB
 * client, so nothing of ours decides what it sees.
 */
async function readFromAnotherProcess(db: string, waitMs: number): Promise<'held' | number> {
  const script = `
    import { DuckDBInstance } from '@duckdb/node-api';
    const deadline = Date.now() + ${waitMs};
    for (;;) {
      try {
        const instance = await DuckDBInstance.create(${JSON.stringify(db)}, { access_mode: 'READ_ONLY' });
        const connection = await instance.connect();
        const reader = await connection.runAndReadAll('SELECT count(*)::INTEGER FROM observations');
        console.log(String(reader.getRows()[0][0]));
        break;
      } catch (error) {
        if (!/lock/i.test(String(error))) { console.log('error ' + String(error)); break; }
        if (Date.now() > deadline) { console.log('held'); break; }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }`;
  // Not spawnSync: the traffic comes from this process's event loop, and must not pause while the reader looks.
  const out = (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..'), timeout: waitMs + 30_000 })).stdout.trim();
  if (out === 'held') return 'held';
  if (!/^\d+$/.test(out)) throw new Error(`reader: ${out}`);
  return Number(out);
}

describe("a backend's released store (subprocess, real DuckDB files)", () => {
  it('is held while traffic flows, gets to a reader waiting as a merge does, and holds every observation once traffic pauses', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'primary.duckdb');
      const backend = spawnParity(['backend', '--listen', '127.0.74.2:18180', '--role', 'primary', '--protocol', 'generic', '--db', db, '--run', 'held']);
      expect(await backend.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      const pid = backend.child.pid as number;
      const device = await UdpClient.open('127.0.74.10');
      let sent = 0;
      // Steady traffic (about 200 packets a second) for twice HOLD_MS; meanwhile, whether the backend holds its file,
      // every 25 ms, and a reader that waits for it as a merge does.
      const until = Date.now() + HOLD_MS * 2;
      const traffic = (async () => {
        while (Date.now() < until && sent < 10_000) {
          await device.send(Buffer.from(`request ${sent++}`), 18180, '127.0.74.2');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const samples: { atMs: number; held: boolean }[] = [];
      const sampling = (async () => {
        while (Date.now() < until) {
          samples.push({ atMs: Date.now(), held: holdsFile(pid, db) });
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, HOLD_MS / 2));
      const look = await readFromAnotherProcess(db, 10_000);
      await Promise.all([traffic, sampling]);
      expect(await device.waitForReplies(sent)).toBe(sent);

      // Held while traffic flows (when it is let go is the in-process tests' below: under a busy machine's pauses, the
      // traffic of this process pauses too), and a reader waiting as a merge does (10 s) gets it.
      expect(samples.some((s) => s.held)).toBe(true);
      expect(look).not.toBe('held');
      expect(look).toBeGreaterThan(0);
      // Traffic paused: released within moments, every request and answer in it.
      let last: 'held' | number = 'held';
      await waitFor(async () => (last = await readFromAnotherProcess(db, 0)) === 2 * sent, `all ${2 * sent} observations readable (last look: ${last})`);
      await device.close();
    });
  }, 90_000);
});

/** An observation as a backend makes one: its request, or its answer (with the payload kept). */
function observation(n: number): Observation {
  const answer = n % 2 === 1;
  return { leg: answer ? 'primary>relay' : 'relay>primary', tsNs: BigInt(1_000_000 + n), srcIp: '127.0.76.1', srcPort: 40_000 + (n % 10), dstIp: '127.0.76.2', dstPort: 18181, routePort: 18181, payload: Buffer.from(`payload ${n}`), kind: 'opaque', matchKey: String(n >> 1), observer: 'backend:primary', keepPayload: answer };
}

async function countIn(db: string): Promise<number> {
  const store = await Store.open(db);
  try {
    const [row] = await store.query('SELECT count(*)::INTEGER AS n FROM observations');
    return Number(row?.n);
  } finally {
    store.close();
  }
}

describe("a backend's released store, commit by commit (in-process, real DuckDB files)", () => {
  // The timers that commit and release by themselves are set out of the way: each step is the test's.
  const byHand = { holdMs: 600_000, idleCommitMs: 600_000, commitEveryMs: 600_000 };

  it('keeps the file across commits that carry observations, lets it go at a commit with nothing new, and at its close', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'primary.duckdb');
      const sink = await ReleasedStoreSink.open({ path: db, runName: 'held', protocol: 'generic', topology: undefined, startedNs: 1n, timing: byHand });
      const held = (): boolean => holdsFile(process.pid, db);
      expect(held()).toBe(false);
      for (let n = 0; n < 100; n++) sink.add(observation(n));
      await sink.commit();
      expect(held()).toBe(true);
      for (let n = 100; n < 5_000; n++) sink.add(observation(n));
      await sink.commit();
      expect(held()).toBe(true);
      // Nothing new: traffic paused, the file is let go with everything committed in it.
      await sink.commit();
      expect(held()).toBe(false);
      expect(await countIn(db)).toBe(5_000);
      sink.add(observation(5_000));
      await sink.commit();
      expect(held()).toBe(true);
      await sink.close('completed', 2n);
      expect(held()).toBe(false);
      expect(await countIn(db)).toBe(5_001);
    });
  });

  it('lets the file go once it has been held holdMs, traffic or not', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'mirror.duckdb');
      const sink = await ReleasedStoreSink.open({ path: db, runName: 'brief', protocol: 'generic', topology: undefined, startedNs: 1n, timing: { ...byHand, holdMs: 0 } });
      for (let n = 0; n < 100; n++) sink.add(observation(n));
      await sink.commit();
      expect(holdsFile(process.pid, db)).toBe(false);
      expect(await countIn(db)).toBe(100);
      await sink.close('completed', 2n);
    });
  });

  it('makes a merge in another process, begun while observations wait uncommitted, wait for them', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'primary.duckdb');
      const sink = await ReleasedStoreSink.open({ path: db, runName: 'cut', protocol: 'generic', topology: undefined, startedNs: 1n, timing: byHand });
      for (let n = 0; n < 100; n++) sink.add(observation(n));
      await sink.commit({ release: true });
      // Received, not committed: a report started now must not count them as lost.
      for (let n = 100; n < 150; n++) sink.add(observation(n));
      const merge = mergeInAnotherProcess(join(dir, 'analysis.duckdb'), 'cut', db);
      await merge.ready;
      await new Promise((resolve) => setTimeout(resolve, 300));
      await sink.commit({ release: true });
      expect(await merge.observations).toBe(150);
      await sink.close('completed', 2n);
    });
  }, 60_000);

  it('keeps a merge waiting only for what was received before it began, and names a writer that keeps it waiting', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'mirror.duckdb');
      const sink = await ReleasedStoreSink.open({ path: db, runName: 'stuck', protocol: 'generic', topology: undefined, startedNs: 1n, timing: byHand, writer: 'parity backend --role mirror' });
      const before = Date.now() - 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      sink.add(observation(0));
      await new Promise((resolve) => setTimeout(resolve, 5));
      // Steady traffic: what arrived after a merge began is not waited for.
      await waitForUncommitted(db, before, 0);
      await expect(waitForUncommitted(db, Date.now(), 200)).rejects.toMatchObject({ code: 'PARITY_ERR_STORE_LOCKED', message: expect.stringContaining(`parity backend --role mirror (pid ${process.pid}`) });
      await sink.commit({ release: true });
      await waitForUncommitted(db, Date.now(), 0);
      sink.add(observation(1));
      await sink.close('completed', 2n);
      // Closed with everything committed: nothing left to wait for.
      await waitForUncommitted(db, Date.now(), 0);
    });
  });
});

/**
 * `mergeObservations` in a process of its own, as `parity report --observations` runs it: DuckDB's file lock keeps
 * apart processes, not two stores of one. Says 'ready' just before the merge begins.
 */
function mergeInAnotherProcess(analysisDb: string, runName: string, observationDb: string): { ready: Promise<void>; observations: Promise<number> } {
  const root = join(import.meta.dirname, '../..');
  const script = `
    import { Store } from ${JSON.stringify(join(root, 'src/store/store.ts'))};
    import { createRun } from ${JSON.stringify(join(root, 'src/store/runs.ts'))};
    import { mergeObservations } from ${JSON.stringify(join(root, 'src/observe/merge-observations.ts'))};
    const store = await Store.open(${JSON.stringify(analysisDb)});
    await createRun(store, { name: ${JSON.stringify(runName)}, kind: 'replay', protocol: 'generic' });
    console.log('ready');
    const [merged] = await mergeObservations(store, ${JSON.stringify(runName)}, [${JSON.stringify(observationDb)}]);
    console.log(String(merged.observations));
    store.close();`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let signalReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('ready')) signalReady();
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const observations = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      signalReady();
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && /^\d+$/.test(last)) resolve(Number(last));
      else reject(new Error(`merge exited ${code}: ${err.trim().split('\n').at(-1) ?? ''}`));
    });
  });
  return { ready, observations };
}
