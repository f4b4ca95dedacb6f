import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { createCapture, listCaptures } from '../../src/capture/capture-catalog.ts';
import { createRun, finishRun, getRun, recordObserverCounters, updateRun } from '../../src/store/runs.ts';
import { readProgressFiles, ProgressFile } from '../../src/store/progress-file.ts';
import { sizeInBytes, Store, withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const RUN_TS = join(import.meta.dirname, '../../src/cli/run-ts.js');
const STORE_TS = join(import.meta.dirname, '../../src/store/store.ts');
const CATALOG_TS = join(import.meta.dirname, '../../src/capture/capture-catalog.ts');

describe('the store (real DuckDB files)', () => {
  it('a process killed with -9 right after opening a new store and creating a capture leaves a store that opens', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'killed.duckdb');
      const script = join(dir, 'kill-self.mts');
      // DuckDB 1.5 cannot replay the schema's ALTER TABLEs from its write-ahead log: the store checkpoints them on open.
      writeFileSync(
        script,
        `import { Store } from '${STORE_TS}';\nimport { createCapture } from '${CATALOG_TS}';\n` +
          `const store = await Store.open(${JSON.stringify(db)});\nawait createCapture(store, 'half', 'x.pcap', [20500]);\nprocess.kill(process.pid, 'SIGKILL');\n`,
      );
      const child = spawnSync(process.execPath, [RUN_TS, script], { encoding: 'utf8', timeout: 60_000 });
      expect(child.signal).toBe('SIGKILL');
      await withStore(db, async (store) => {
        const [capture] = await listCaptures(store);
        expect(capture).toMatchObject({ name: 'half', partial: true, writing: false, routePorts: [20500] });
      });
    });
  });

  it('caps DuckDB\'s memory for a piece of work and sets it back as opened, never raising a store\'s lower limit', async () => {
    await withTempDir(async (dir) => {
      const limit = async (store: Store): Promise<number | undefined> => sizeInBytes(String((await store.query("SELECT current_setting('memory_limit') AS v"))[0]?.v));
      await withStore(join(dir, 'capped.duckdb'), async (store) => {
        const before = await limit(store);
        expect(before).toBeGreaterThan(2 ** 30);
        // Many pieces of work in one process (a scenario's replays): the limit comes back the same every time.
        for (let i = 0; i < 3; i++) expect(await store.withMemoryLimit(100 * 2 ** 20, () => limit(store))).toBe(100 * 2 ** 20);
        expect(await limit(store)).toBe(before);
      });
      const asked = process.env.PARITY_MEMORY_LIMIT;
      process.env.PARITY_MEMORY_LIMIT = '48MiB';
      try {
        await withStore(join(dir, 'small.duckdb'), async (store) => {
          expect(await store.withMemoryLimit(100 * 2 ** 20, () => limit(store))).toBe(48 * 2 ** 20);
        });
      } finally {
        if (asked === undefined) delete process.env.PARITY_MEMORY_LIMIT;
        else process.env.PARITY_MEMORY_LIMIT = asked;
      }
    });
    expect([sizeInBytes('10.0 GiB'), sizeInBytes('61.0 MiB'), sizeInBytes('512 bytes'), sizeInBytes('80%')]).toEqual([10 * 2 ** 30, 61 * 2 ** 20, 512, undefined]);
  });

  it('opening a store again keeps what it holds (the schema is applied idempotently)', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'twice.duckdb');
      await withStore(db, (store) => createRun(store, { name: 'kept', kind: 'replay', protocol: 'generic' }));
      const store = await Store.open(db);
      try {
        expect((await getRun(store, 'kept')).status).toBe('running');
      } finally {
        store.close();
      }
    });
  });

  it('a new store is written in the v1.5.0 format; one made in the oldest format opens, keeps it and takes new runs', async () => {
    await withTempDir(async (dir) => {
      const format = async (store: Store): Promise<unknown> =>
        (await store.query("SELECT tags['storage_version'] AS v FROM duckdb_databases() WHERE database_name = current_database()"))[0]?.v;
      await withStore(join(dir, 'new.duckdb'), async (store) => {
        expect(await format(store)).toBe('v1.5.0+');
        // The reason for the format: text columns stored with one compression that does both dictionary and FSST.
        await store.exec("CREATE TABLE words AS SELECT 'device-' || (range % 1000) AS w FROM range(200000); CHECKPOINT");
        const kinds = await store.query("SELECT DISTINCT compression FROM pragma_storage_info('words') WHERE segment_type = 'VARCHAR'");
        expect(kinds.map((k) => k.compression)).toEqual(['DICT_FSST']);
      });
      const old = join(dir, 'old.duckdb');
      const instance = await DuckDBInstance.create(old, { storage_compatibility_version: 'v1.0.0' });
      instance.closeSync();
      await withStore(old, (store) => createRun(store, { name: 'on-old', kind: 'replay', protocol: 'generic' }));
      await withStore(old, async (store) => {
        expect(await format(store)).toBe('v1.0.0+');
        expect((await getRun(store, 'on-old')).status).toBe('running');
      });
    });
  });

  it("a run's end keeps what its taps and backends recorded before it (a scenario's drain), beside its own figures", async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'stats.duckdb'), async (store) => {
        const runId = await createRun(store, { name: 'drained', kind: 'replay', protocol: 'generic' });
        const tap = { observer: 'tap:mirror:20500', backend: 'mirror', forwarded: 10, replies: 0, strayReplies: 0, receiveDrops: 2, replyDrops: 0, errors: { refused: 8 } };
        await recordObserverCounters(store, runId, [tap], { primary: 3 });
        await finishRun(store, runId, 'completed', 5n, { unrecorded: 1, observations: 20 });
        const [row] = await store.query('SELECT stats::VARCHAR AS stats FROM runs WHERE run_id = $id', { id: runId });
        expect(JSON.parse(String(row?.stats))).toEqual({ observers: [tap], backendDrops: { primary: 3 }, unrecorded: 1, observations: 20 });
      });
    });
  });

  it('a later update of a run (its topology, after its relay) keeps what an earlier one set', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'update.duckdb'), async (store) => {
        const runId = await createRun(store, { name: 'ws-run', kind: 'replay', protocol: 'ws' });
        await updateRun(store, runId, { protocol: 'ws', relay: 'ws://127.0.0.1:19166/ingest' });
        await updateRun(store, runId, { protocol: 'ws', topology: { relay: { kind: 'builtin', address: '127.0.0.1', debug: null }, backends: [], routes: [] } });
        const run = await getRun(store, 'ws-run');
        expect(run.relay).toBe('ws://127.0.0.1:19166/ingest');
        expect(run.topology.backends).toEqual([]);
      });
    });
  });

  it('refuses run and capture names that could leave their folder or break a report', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'names.duckdb'), async (store) => {
        await expect(createRun(store, { name: '../x', kind: 'replay', protocol: 'generic' })).rejects.toThrow(/run name "\.\.\/x" is not a usable name/);
        await expect(createCapture(store, 'a b', 'x.pcap')).rejects.toThrow(/capture name "a b" is not a usable name/);
      });
    });
  });

  it('progress files beside the store are read while their writer lives, skipped once it is gone, removed on close', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'p.duckdb');
      const progress = new ProgressFile(db, 'parity replay test');
      progress.update({ sent: 5, planned: 10 }, true);
      expect(readProgressFiles(db)).toEqual([expect.objectContaining({ pid: process.pid, command: 'parity replay test', progress: { sent: 5, planned: 10 } })]);
      writeFileSync(join(`${db}.progress`, '999999999.json'), JSON.stringify({ pid: 999_999_999, host: hostname(), command: 'dead', startedAt: '', updatedAt: '', progress: {} }));
      expect(readProgressFiles(db).map((r) => r.command)).toEqual(['parity replay test']);
      progress.close();
      expect(readProgressFiles(db)).toEqual([]);
    });
  });
});
