import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import duckdb from '@duckdb/node-bindings';
import { DuckDBInstance, type DuckDBBlobVector } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { duckdbStrings, duckdbStringsMissing } from '../../src/store/duckdb-strings.ts';
import { stringRows } from '../helpers/string-values.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { addonsBuildable } from '../helpers/addon-buildable.ts';

const RUN_TS = join(import.meta.dirname, '../../src/cli/run-ts.js');
const WRITER = join(import.meta.dirname, '../helpers/write-string-rows.ts');
/** Three data chunks and a part: every value kind lands at chunk boundaries too. */
const ROWS = 3 * 2048 + 517;


describe("the store's C string path (duckdb-strings.c)", () => {
  it.skipIf(!addonsBuildable)('npm install built it where there are a C compiler and Node headers, and it passed its check against the bindings', () => {
    // Where it can be built the suite must exercise it: an install that silently fell back would leave the store's
    // default path untested.
    expect(duckdbStrings(), duckdbStringsMissing).toBeDefined();
  });

  // Each writer in a process of its own: which path a process uses is settled once.
  it.skipIf(duckdbStrings() === undefined)('texts and blobs written through the C path read back as written (DuckDB alone reads them)', { timeout: 60_000 }, () => writeAndReadBack('c'));

  it('texts and blobs written one value at a time (PARITY_DUCKDB_STRINGS=js) read back as written', { timeout: 60_000 }, () => writeAndReadBack('js'));

  it.skipIf(duckdbStrings() === undefined)('reads a chunk of blobs back in one call as the bindings read them one by one, NULLs empty; asks for room first', async () => {
    const strings = duckdbStrings()!;
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run(`CREATE TABLE t AS SELECT i AS id, CASE WHEN i % 9 = 2 THEN NULL ELSE repeat(chr((65 + i % 26)::INTEGER), (i % 70)::INTEGER)::BLOB END AS b FROM range(5000) r(i)`);
      const result = await connection.stream('SELECT b FROM t ORDER BY id');
      let rows = 0;
      for (let chunk = await result.fetchChunk(); chunk !== null && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        const vector = duckdb.data_chunk_get_vector(chunk.chunk, 0);
        const ends = new Uint32Array(chunk.rowCount);
        const needed = strings.copy(vector, chunk.rowCount, new Uint8Array(0), ends);
        expect(needed).toBeLessThan(0);
        const bytes = new Uint8Array(-needed);
        expect(strings.copy(vector, chunk.rowCount, bytes, ends)).toBe(-needed);
        const one = chunk.getColumnVector(0) as DuckDBBlobVector;
        for (let row = 0; row < chunk.rowCount; row++) {
          const got = bytes.subarray(row === 0 ? 0 : ends[row - 1], ends[row]);
          expect(Buffer.from(got).equals(Buffer.from(one.getItemBytes(row) ?? new Uint8Array(0)))).toBe(true);
        }
        rows += chunk.rowCount;
      }
      expect(rows).toBe(5000);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

/** Writes stringRows(ROWS) through the store's appender in a process of its own on `path`, then reads them back with DuckDB alone. */
async function writeAndReadBack(path: 'c' | 'js'): Promise<void> {
  await withTempDir(async (dir) => {
    const db = join(dir, 'strings.duckdb');
    const child = spawnSync(process.execPath, [RUN_TS, WRITER, db, String(ROWS)], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PARITY_DUCKDB_STRINGS: path === 'js' ? 'js' : '' } });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe(path);
    const instance = await DuckDBInstance.create(db);
    const connection = await instance.connect();
    try {
      const rows = (await connection.runAndReadAll('SELECT id, text, bytes FROM t ORDER BY id')).getRows();
      const expected = stringRows(ROWS);
      expect(rows.length).toBe(ROWS);
      for (const [i, [id, text, bytes]] of rows.entries()) {
        const want = expected[i];
        expect({ id, text }).toEqual({ id: want?.id, text: want?.text });
        const got = bytes === null ? null : Buffer.from((bytes as { bytes: Uint8Array }).bytes);
        expect(got === null ? null : got.equals(Buffer.from(want?.bytes ?? []))).toBe(want?.bytes === null ? null : true);
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
}
