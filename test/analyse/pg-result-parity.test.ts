import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PG_ANALYSIS_STEPS } from '../../src/analyse/pg/analyse-pg-run.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/**
 * The result-parity step on hand-made receipts, to pin its rules: rows in another order are a difference where the
 * query asks for an order and noise where it does not; a statement after one the mirror missed in its session is not
 * compared.
 */
describe('Postgres result parity (02-result-parity.sql)', () => {
  it('judges row order by ORDER BY, names each family by its text with literals taken out, and skips what follows a gap', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 's.duckdb'), async (store) => {
        const sends: [string, number, string][] = [
          ['s1', 0, "SELECT id FROM t WHERE cents > 5 ORDER BY id"],
          ['s1', 1, 'SELECT id FROM t WHERE cents > $1'],
          ['s1', 2, "UPDATE t SET x = 'a' WHERE id = 7"],
          ['s2', 3, 'INSERT INTO t VALUES ($1)'],
          ['s2', 4, 'SELECT id FROM t WHERE cents > $1'],
        ];
        for (const [session, sendNo, query] of sends) {
          await store.exec("INSERT INTO pg_sends VALUES (1, $n, $s, $n, $q, 0, 0, 0, NULL, NULL, NULL, NULL)", { n: sendNo, s: session, q: query });
        }
        const receipt = async (database: string, sendNo: number, query: string, tag: string, rowHash: string | null, setHash: string | null): Promise<void> => {
          await store.exec('INSERT INTO pg_receipts VALUES (1, $db, $sess, $n, $n, $n, $q, NULL, $tag, NULL, $rh, $sh, NULL)', { db: database, sess: `${database}-conn`, n: sendNo, q: `/*parity_send=${sendNo}*/ ${query}`, tag, rh: rowHash, sh: setHash });
        };
        for (const [, sendNo, query] of sends) {
          const differs = { 0: ['SELECT 2', 'ab', 'S', 'SELECT 2', 'ba', 'S'], 1: ['SELECT 2', 'ab', 'S', 'SELECT 2', 'ba', 'S'], 2: ['UPDATE 1', null, null, 'UPDATE 0', null, null], 4: ['SELECT 1', 'a', 'A', 'SELECT 1', 'b', 'B'] }[sendNo];
          const [pt, ph, ps, mt, mh, ms] = differs ?? ['INSERT 0 1', null, null, 'INSERT 0 1', null, null];
          await receipt('primary', sendNo, query, pt as string, ph as string | null, ps as string | null);
          // Send 3 (s2's insert) never reached the mirror: s2's later results are not comparable.
          if (sendNo !== 3) await receipt('mirror', sendNo, query, mt as string, mh as string | null, ms as string | null);
        }
        const rows = await store.query(PG_ANALYSIS_STEPS.resultParity.sql, { run_id: 1 });
        expect(rows.map((r) => [str(r.family), num(r.compared), num(r.differing), num(r.order_only), num(r.not_comparable), r.example === null ? null : str(r.example)])).toEqual([
          ['SELECT id FROM t WHERE cents > ? ORDER BY id', 1, 1, 0, 0, 'rows'],
          ['UPDATE t SET x = ? WHERE id = ?', 1, 1, 0, 0, 'tag UPDATE 1 / UPDATE 0'],
          ['SELECT id FROM t WHERE cents > $1', 1, 0, 1, 1, null],
        ]);
      });
    });
  });
});
