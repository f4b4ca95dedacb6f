import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, startPgCluster, type PgCluster } from '../../src/backends/pg/pg-cluster.ts';
import { str, withStore } from '../../src/store/store.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { runParity } from '../helpers/run-parity.ts';
import { captureWholeTcp } from '../helpers/tcp-capture.ts';
import { tcpdumpUsable } from '../helpers/tcpdump.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const bin = findPgBin();
/** psql beside initdb where the package put it, else on the PATH (Debian links it into /usr/bin). */
const psql = bin !== undefined && existsSync(join(bin, 'psql')) ? join(bin, 'psql') : 'psql';
const ready = requirePrerequisite(tcpdumpUsable(), 'tcpdump run as root, to capture real PostgreSQL sessions on loopback') && requirePrerequisite(bin !== undefined, "Debian's postgresql package (initdb, pg_ctl, psql)");
const SOURCE = { host: '127.0.97.1', port: 15_471 };
const TARGET = { host: '127.0.97.2', port: 15_472 };
const ROWS = 5000;
const SCHEMA = 'CREATE TABLE readings (id int PRIMARY KEY, device text, value numeric)';
/** The same rows exported in two orders: COPY ... TO STDOUT's rows hashed in order, as a SELECT's are. */
const EXPORTS = ['COPY (SELECT id, device FROM readings ORDER BY id) TO STDOUT', 'COPY (SELECT id, device FROM readings ORDER BY id DESC) TO STDOUT'];

let source: PgCluster | undefined;
let target: PgCluster | undefined;

async function sql(cluster: PgCluster, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: cluster.url() });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  if (!ready) return;
  [source, target] = await Promise.all([startPgCluster(SOURCE), startPgCluster(TARGET)]);
  await Promise.all([sql(source, SCHEMA), sql(target, SCHEMA)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

/**
 * psql (PostgreSQL's own client, independent of the importer) loads rows with COPY ... FROM STDIN, then reads them
 * back in the same session, and exports them with COPY ... TO STDOUT in two orders: the recording holds the data the
 * COPY was fed, and the replay feeds it again; the exports' rows are hashed in order, as a SELECT's.
 */
describe.runIf(ready)('COPY ... FROM STDIN: recorded with its data, replayed with it', () => {
  it('the replayed COPY loads the same rows into the target; without its data it fails, and the session goes on', async () => {
    await withTempDir(async (dir) => {
      const csv = Array.from({ length: ROWS }, (_, i) => `${i + 1},device-${i % 37},${(i * 0.25).toFixed(2)}\n`).join('');
      const script = join(dir, 'load.sql');
      writeFileSync(script, `COPY readings FROM STDIN WITH (FORMAT csv);\n${csv}\\.\nSELECT count(*), sum(value) FROM readings;\n${EXPORTS.map((e) => `${e};\n`).join('')}`);
      const file = join(dir, 'copy.pcap');
      await captureWholeTcp(file, SOURCE.host, SOURCE.port, async () => {
        const loaded = spawnSync(psql, ['-h', SOURCE.host, '-p', String(SOURCE.port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-f', script], { encoding: 'utf8', timeout: 30_000 });
        expect(loaded.status, `${String(loaded.error)} ${loaded.stderr}`).toBe(0);
      });
      const db = join(dir, 'copy.duckdb');
      const imported = await runParity(['import', file, '--name', 'load', '--db', db]);
      expect(imported.code, imported.stderr).toBe(0);
      await withStore(db, async (store) => {
        const rows = await store.query("SELECT command_tag, copy_data, row_count, row_hash FROM pg_statements WHERE query LIKE 'COPY%' ORDER BY seq");
        expect(rows.map((r) => str(r.command_tag))).toEqual([`COPY ${ROWS}`, `COPY ${ROWS}`, `COPY ${ROWS}`]);
        const [ascending, descending] = [rows[1]?.row_hash, rows[2]?.row_hash];
        expect(ascending).toMatch(/^[0-9a-f]{64}$/);
        expect(descending).toMatch(/^[0-9a-f]{64}$/);
        expect(descending).not.toBe(ascending);
        expect(rows.map((r) => r.copy_data === null)).toEqual([false, true, true]);
        // Byte for byte what psql sent, its end-of-data marker included (psql passes it on; the server reads it as the end).
        expect(Buffer.from(rows[0]?.copy_data as Uint8Array).toString('utf8')).toBe(`${csv}\\.\n`);
      });

      type Replayed = { status: string; sent: number; answered: number; errors: number; notAsRecorded: { reason: string; count: number; examples: string[] }[] };
      const replay = async (run: string): Promise<Replayed> => {
        const result = await runParity(['replay', 'load', '--proxy', `postgres://${TARGET.host}:${TARGET.port}`, '--speed', 'max', '--run', run, '--db', db, '--json'], { timeoutMs: 60_000 });
        expect(result.code, result.stderr).toBe(0);
        return JSON.parse(result.stdout) as Replayed;
      };
      const answers = async (run: string): Promise<[string | null, string | null][]> =>
        withStore(db, async (store) =>
          (await store.query('SELECT s.command_tag, s.sqlstate FROM pg_sends s JOIN runs r USING (run_id) WHERE r.name = $run ORDER BY s.send_no', { run })).map((r) => [
            r.command_tag === null ? null : str(r.command_tag),
            r.sqlstate === null ? null : str(r.sqlstate),
          ]),
        );

      expect(await replay('load-1')).toMatchObject({ status: 'completed', sent: 4, answered: 4, errors: 0, notAsRecorded: [] });
      expect(await answers('load-1')).toEqual([[`COPY ${ROWS}`, null], ['SELECT 1', null], ...EXPORTS.map((): [string, null] => [`COPY ${ROWS}`, null])]);
      const loaded = (await sql(target as PgCluster, 'SELECT count(*) AS n, sum(value)::text AS total, count(DISTINCT device) AS devices FROM readings')).rows[0] as { n: string; total: string; devices: string };
      const recorded = (await sql(source as PgCluster, 'SELECT count(*) AS n, sum(value)::text AS total, count(DISTINCT device) AS devices FROM readings')).rows[0] as { n: string; total: string; devices: string };
      expect(loaded).toEqual(recorded);
      expect(Number(loaded.n)).toBe(ROWS);

      // The same COPY as an extended query (Parse, Bind, Execute, Sync), as some drivers send it: the server ignores
      // the Sync that came with the Execute while it copies in, so the replay sends another after CopyDone.
      await sql(target as PgCluster, 'TRUNCATE readings');
      await withStore(db, (store) => store.exec("UPDATE pg_statements SET kind = 'extended', params = '[]' WHERE query LIKE 'COPY readings%'"));
      expect(await replay('load-2')).toMatchObject({ status: 'completed', sent: 4, answered: 4, errors: 0 });
      expect(await answers('load-2')).toEqual([[`COPY ${ROWS}`, null], ['SELECT 1', null], ...EXPORTS.map((): [string, null] => [`COPY ${ROWS}`, null])]);
      expect((await sql(target as PgCluster, 'SELECT count(*)::int AS n FROM readings')).rows[0]).toEqual({ n: ROWS });

      // A COPY whose data was not recorded (a csvlog never holds it): refused with CopyFail, not waited on for ever;
      // the database's error is its answer, and the session's next statement runs. Extended, then simple.
      await withStore(db, (store) => store.exec("UPDATE pg_statements SET copy_data = NULL WHERE query LIKE 'COPY readings%'"));
      for (const [run, kind] of [['load-3', 'extended'], ['load-4', 'simple']] as const) {
        await withStore(db, (store) => store.exec(`UPDATE pg_statements SET kind = '${kind}' WHERE query LIKE 'COPY readings%'`));
        const replayed = await replay(run);
        expect(replayed).toMatchObject({ status: 'completed', sent: 4, answered: 4, errors: 0 });
        expect(await answers(run)).toEqual([[null, '57014'], ['SELECT 1', null], ...EXPORTS.map((): [string, null] => [`COPY ${ROWS}`, null])]);
        // Both databases would refuse it alike and load nothing: the run says so, and its verdict names it.
        expect(replayed.notAsRecorded).toEqual([{ reason: expect.stringMatching(/^COPY FROM STDIN without its data/), count: 1, examples: [expect.stringMatching(/^COPY readings FROM STDIN/)] }]);
      }
      const analysed = await runParity(['analyse', 'load-4', '--db', db, '--json']);
      const verdict = JSON.parse(analysed.stdout) as { findings: { kind: string; metric: string; value: number | null; message: string }[] };
      expect(verdict.findings.filter((f) => f.metric === 'replay_not_as_recorded')).toEqual([
        expect.objectContaining({ kind: 'replay_fidelity', value: 1, message: expect.stringMatching(/^1 of 4 sent not as recorded: COPY FROM STDIN without its data.*"COPY readings FROM STDIN/) }),
      ]);
    });
  }, 120_000);
});
