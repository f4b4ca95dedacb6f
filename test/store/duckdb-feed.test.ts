import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { openChunkAppender } from '../../src/store/chunk-appender.ts';
import { duckdbFeedMissing, nativeFeedInUse } from '../../src/store/native-feed-queue.ts';
import { withStore } from '../../src/store/store.ts';
import { addonsBuildable } from '../helpers/addon-buildable.ts';
import { feedRowNumbers } from '../helpers/feed-row-numbers.ts';
import { stringRows } from '../helpers/string-values.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const RUN_TS = join(import.meta.dirname, '../../src/cli/run-ts.js');
const WRITER = join(import.meta.dirname, '../helpers/write-feed-rows.ts');
/** Several commits, and chunks that end mid-commit: 3,000 rows a commit against 2,048 a chunk. */
const ROWS = 4 * 2048 + 517;

describe("the store's C feed (duckdb-feed.c)", () => {
  it.skipIf(!addonsBuildable)('npm install built it where there are a C compiler and Node headers, and feeds use it', () => {
    expect(nativeFeedInUse(), duckdbFeedMissing).toBe(true);
  });

  // Each writer in a process of its own: which path a process uses is settled once.
  it.skipIf(!nativeFeedInUse())('rows of every kind, NULLs and long values fed through the C feed read back as written', { timeout: 60_000 }, () => writeAndReadBack('c'));

  it('the same through the bindings\' table function (PARITY_DUCKDB_FEED=js)', { timeout: 60_000 }, () => writeAndReadBack('js'));

  it('a row the table refuses fails the feed: the writer is told, what was committed before stays, the store goes on', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'refused.duckdb'), async (store) => {
        await store.exec('CREATE TABLE t (id INTEGER NOT NULL, text VARCHAR)');
        const writer = await openChunkAppender(store, 't', ['i32', 'varchar']);
        for (let id = 0; id < 3000; id++) {
          writer.setNumber(0, id);
          writer.setString(1, `row ${id} of the first commit`);
          writer.endRow();
        }
        writer.flush();
        // A NULL where the table allows none, in the second commit's first chunk.
        for (let id = 3000; id < 6000; id++) {
          if (id === 3100) writer.setNull(0);
          else writer.setNumber(0, id);
          writer.setString(1, `row ${id}`);
          writer.endRow();
        }
        await expect(writer.finish()).rejects.toThrow(/NOT NULL/);
        const [rows] = await store.query('SELECT count(*)::INTEGER AS n, max(id) AS last FROM t');
        expect(rows).toEqual({ n: 3000, last: 2999 });
      });
    });
  });
});

async function writeAndReadBack(path: 'c' | 'js'): Promise<void> {
  await withTempDir(async (dir) => {
    const db = join(dir, 'feed.duckdb');
    const child = spawnSync(process.execPath, [RUN_TS, WRITER, db, String(ROWS)], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PARITY_DUCKDB_FEED: path === 'js' ? 'js' : '' } });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe(path);
    const instance = await DuckDBInstance.create(db);
    const connection = await instance.connect();
    try {
      const rows = (await connection.runAndReadAll('SELECT id, n, big, x, flag, small, text, bytes FROM t ORDER BY id')).getRows();
      const expected = stringRows(ROWS);
      expect(rows.length).toBe(ROWS);
      for (const [i, [id, n, big, x, flag, small, text, bytes]] of rows.entries()) {
        const want = expected[i];
        const numbers = feedRowNumbers(i);
        expect({ id, n, big, x, flag, small, text }).toEqual({ id: want?.id, ...numbers, text: want?.text });
        const got = bytes === null ? null : Buffer.from((bytes as { bytes: Uint8Array }).bytes);
        expect(got === null ? null : got.equals(Buffer.from(want?.bytes ?? []))).toBe(want?.bytes === null ? null : true);
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
}
