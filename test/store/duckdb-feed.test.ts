import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { duckdbFeedMissing, nativeFeedInUse } from '../../src/store/native-feed-queue.ts';
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
