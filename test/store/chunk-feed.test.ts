import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkAppender, ROW_GROUP_ROWS } from '../../src/store/chunk-appender.ts';
import { FeedTableWriter } from '../../src/store/batched-table-writer.ts';
import { RECORDING_THREADS, withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const KINDS = ['i64', 'i64', 'blob', 'varchar'] as const;

/** Row `i`: its number, a timestamp in nanoseconds, a blob long enough to leave the inline form, a NULL or a string. */
function writeRow(appender: ChunkAppender, i: number): void {
  appender.setNumber(0, i);
  appender.setEpochNs(1, 1_700_000_000 + i, (i * 7919) % 1_000_000_000);
  appender.setBytes(2, new Uint8Array(20 + (i % 50)).fill(i % 251));
  if (i % 3 === 0) appender.setNull(3);
  else appender.setString(3, `value number ${i}`);
  appender.endRow();
}

describe('bulk loads through a feed (real DuckDB files)', () => {
  // One thread, as a recording process opens its store: the INSERT's own thread then calls back into this one.
  it.each([
    ['one per core', undefined],
    ['one, as a recording opens its store', RECORDING_THREADS],
  ])('stores every row exactly, commits on request, and keeps the writer waiting only while DuckDB is behind (threads: %s)', async (_, threads) => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'feed.duckdb'), async (store) => {
        const [setting] = await store.query("SELECT current_setting('threads')::INT AS n");
        if (threads !== undefined) expect(setting?.n).toBe(threads);
        await store.exec('CREATE TABLE fed (n BIGINT, ts_ns BIGINT, bytes BLOB, text VARCHAR)');
        const appender = new ChunkAppender(await store.createFeed('fed'), 'fed', KINDS);
        const rows = 300_000;
        for (let i = 0; i < rows; i++) {
          writeRow(appender, i);
          if (i === 99_999) {
            appender.flush();
            // A commit is asked for, not waited on: the rows appear once DuckDB has stored them.
            for (let tries = 0; tries < 400; tries++) {
              const [seen] = await store.query('SELECT count(*)::INT AS n FROM fed');
              if (seen?.n === 100_000) break;
              await new Promise((resolve) => setTimeout(resolve, 25));
            }
            const [seen] = await store.query('SELECT count(*)::INT AS n FROM fed');
            expect(seen?.n).toBe(100_000);
          }
          if (i % 4096 === 0) await appender.ready();
        }
        await appender.finish();
        const [summary] = await store.query(
          `SELECT count(*)::INT AS n, count(DISTINCT n)::INT AS distinct_n, min(n)::INT AS lo, max(n)::INT AS hi,
                  count(*) FILTER (WHERE ts_ns <> (1700000000 + n) * 1000000000 + (n * 7919) % 1000000000)::INT AS wrong_ts,
                  count(*) FILTER (WHERE octet_length(bytes) <> 20 + n % 50)::INT AS wrong_length,
                  count(*) FILTER (WHERE (n % 3 = 0) <> (text IS NULL) OR (text IS NOT NULL AND text <> 'value number ' || n))::INT AS wrong_text
           FROM fed`,
        );
        expect(summary).toMatchObject({ n: rows, distinct_n: rows, lo: 0, hi: rows - 1, wrong_ts: 0, wrong_length: 0, wrong_text: 0 });
        // Every blob's bytes, not only its length: one byte value repeated, the row's own.
        const [bytes] = await store.query(
          `SELECT count(*) FILTER (WHERE bytes <> unhex(repeat(lpad(printf('%x', n % 251), 2, '0'), (20 + n % 50)::INT)))::INT AS wrong FROM fed`,
        );
        expect(bytes?.wrong).toBe(0);
      }, threads === undefined ? {} : { threads });
    });
  });

  it('a timestamp from seconds and nanoseconds is exact over the whole 32-bit range of seconds', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'epoch.duckdb'), async (store) => {
        await store.exec('CREATE TABLE t (i INTEGER, sec BIGINT, ns BIGINT, ts_ns BIGINT)');
        const { appender, release } = await store.createWriterAppender('t');
        const rows = new ChunkAppender(appender, 't', ['i32', 'i64', 'i64', 'i64'], release);
        const cases: [number, number][] = [[0, 0], [0, 999_999_999], [65_535, 999_999_999], [65_536, 0], [2 ** 31, 1], [2 ** 32 - 1, 999_999_999]];
        let seed = 12345;
        const next = (limit: number): number => {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          return seed % limit;
        };
        for (let i = 0; i < 20_000; i++) cases.push([next(2 ** 32 - 1), next(1_000_000_000)]);
        cases.forEach(([sec, ns], i) => {
          rows.setNumber(0, i);
          rows.setNumber(1, sec);
          rows.setNumber(2, ns);
          rows.setEpochNs(3, sec, ns);
          rows.endRow();
        });
        rows.close();
        const [check] = await store.query('SELECT count(*)::INT AS n, count(*) FILTER (WHERE ts_ns <> sec * 1000000000 + ns)::INT AS wrong FROM t');
        expect(check).toEqual({ n: cases.length, wrong: 0 });
      });
    });
  });

  it('overlapping feeds keep insertion order off until the last one closes, then restore it', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'order.duckdb'), async (store) => {
        await store.exec('CREATE TABLE a (n BIGINT, ts_ns BIGINT, bytes BLOB, text VARCHAR); CREATE TABLE b (n BIGINT, ts_ns BIGINT, bytes BLOB, text VARCHAR)');
        const setting = async (): Promise<unknown> => (await store.query("SELECT current_setting('preserve_insertion_order') AS on"))[0]?.on;
        expect(await setting()).toBe(true);
        // An import's feed, and a replay's sends beside it: the first to open is the first to close.
        const first = new ChunkAppender(await store.createFeed('a'), 'a', KINDS);
        const second = new ChunkAppender(await store.createFeed('b'), 'b', KINDS);
        for (let i = 0; i < 5000; i++) {
          writeRow(first, i);
          writeRow(second, i);
        }
        expect(await setting()).toBe(false);
        await first.finish();
        expect(await setting()).toBe(false);
        await second.finish();
        expect(await setting()).toBe(true);
        const [counts] = await store.query('SELECT (SELECT count(*) FROM a)::INT AS a, (SELECT count(*) FROM b)::INT AS b');
        expect(counts).toEqual({ a: 5000, b: 5000 });
      });
    });
  });
});

describe('a table written through a feed on a commit clock (FeedTableWriter: the replays\' sends)', () => {
  it('commits what was written within its interval while it stays open, and the rest when it finishes', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'clock.duckdb'), async (store) => {
        await store.exec('CREATE TABLE fed (n BIGINT, ts_ns BIGINT, bytes BLOB, text VARCHAR)');
        const writer = await FeedTableWriter.open(store, 'fed', KINDS, { flushIntervalMs: 100 });
        // Fewer rows than a chunk: nothing would reach DuckDB before a commit hands them over.
        for (let i = 0; i < 1000; i++) writeRow(writer.rows, i);
        const committed = async (): Promise<number> => Number((await store.query('SELECT count(*)::INT AS n FROM fed'))[0]?.n ?? -1);
        let seen = 0;
        for (let tries = 0; tries < 200 && seen < 1000; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
          seen = await committed();
        }
        expect(seen).toBe(1000);
        for (let i = 1000; i < 1500; i++) writeRow(writer.rows, i);
        await writer.finish();
        expect(await committed()).toBe(1500);
      });
    });
  });

  it('commits at each whole row group where asked, long before its interval, and DuckDB stores them as row groups', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'row-groups.duckdb'), async (store) => {
        await store.exec('CREATE TABLE fed (n BIGINT, ts_ns BIGINT, bytes BLOB, text VARCHAR)');
        // An hour's bound: any commit before the finish is one of the row groups'.
        const writer = await FeedTableWriter.open(store, 'fed', KINDS, { flushIntervalMs: 3_600_000, rowGroupCommits: true });
        const rows = 2 * ROW_GROUP_ROWS + 5000;
        for (let i = 0; i < rows; i++) {
          writeRow(writer.rows, i);
          if (i % 4096 === 0) await writer.ready();
        }
        const committed = async (): Promise<number> => Number((await store.query('SELECT count(*)::INT AS n FROM fed'))[0]?.n ?? -1);
        let seen = 0;
        for (let tries = 0; tries < 400 && seen < 2 * ROW_GROUP_ROWS; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
          seen = await committed();
        }
        // Two commits, each of one row group: not the 5,000 rows after them, which wait for the finish.
        expect(seen).toBe(2 * ROW_GROUP_ROWS);
        expect(writer.committed).toBe(2 * ROW_GROUP_ROWS);
        // ROW_GROUP_ROWS is DuckDB's own row group: what it stored is two of them, written whole.
        const [groups] = await store.query("SELECT count(DISTINCT row_group_id)::INT AS n, bool_and(persistent) AS written FROM pragma_storage_info('fed')");
        expect(groups).toEqual({ n: 2, written: true });
        await writer.finish();
        expect(await committed()).toBe(rows);
      });
    });
  });
});
