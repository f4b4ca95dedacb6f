import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, startPgCluster, type PgCluster } from '../../src/backends/pg/pg-cluster.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { PG_WORKLOAD_SCHEMA, writePgWorkloadLog } from '../../src/synthetic/pg-workload.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const ready = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");
let withSchema: PgCluster | undefined;
let empty: PgCluster | undefined;

beforeAll(async () => {
  if (!ready) return;
  [withSchema, empty] = await Promise.all([startPgCluster({ host: '127.0.96.1', port: 15_461 }), startPgCluster({ host: '127.0.96.2', port: 15_462 })]);
  const client = new pg.Client({ connectionString: withSchema.url() });
  await client.connect();
  await client.query(PG_WORKLOAD_SCHEMA);
  await client.end();
}, 60_000);
afterAll(async () => {
  await Promise.all([withSchema?.stop(), empty?.stop()]);
});

describe.runIf(ready)('parity replay CAPTURE --proxy postgres://HOST:PORT', () => {
  it('replays every recorded session on a connection of its own, in order, as a run of protocol pg; a target without the schema is refused before anything is sent', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'billing.csv');
      writePgWorkloadLog(log, { sessions: 3, statements: 20, gapMs: 5, seed: 2 });
      const db = join(dir, 's.duckdb');
      expect((await runParity(['import', log, '--name', 'billing', '--db', db])).code).toBe(0);
      const replay = await runParity(['replay', 'billing', '--proxy', `postgres://${(withSchema as PgCluster).host}:15461`, '--speed', '4x', '--run', 'billing-1', '--db', db, '--json']);
      expect(replay.code, replay.stderr).toBe(0);
      const summary = JSON.parse(replay.stdout) as { run: string; status: string; sent: number; answered: number; errors: number };
      expect(summary).toMatchObject({ run: 'billing-1', status: 'completed', errors: 0 });
      await withStore(db, async (store) => {
        const [recorded] = await store.query('SELECT count(*) AS n FROM pg_statements');
        expect(summary.sent).toBe(num(recorded?.n));
        const rows = await store.query("SELECT s.session, s.seq, s.sqlstate, r.protocol FROM pg_sends s JOIN runs r USING (run_id) WHERE r.name = 'billing-1' ORDER BY s.send_no");
        expect(rows.every((r) => str(r.protocol) === 'pg' && r.sqlstate === null)).toBe(true);
        // Each session's statements went in their recorded order.
        for (const session of new Set(rows.map((r) => str(r.session)))) {
          const seqs = rows.filter((r) => str(r.session) === session).map((r) => num(r.seq));
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        }
      });
      const refused = await runParity(['replay', 'billing', '--proxy', `postgres://${(empty as PgCluster).host}:15462`, '--db', db]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim()).toBe(`parity: the replay target ${(empty as PgCluster).host}:15462 lacks the recorded schema: no relation orders (the recording uses it and does not create it); nothing was sent`);
    });
  }, 60_000);
});
