import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { findPgBin, startPgCluster } from '../../src/backends/pg/pg-cluster.ts';
import { str, withStore } from '../../src/store/store.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { killAllParity, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

afterEach(killAllParity);

const ready = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");

/** A real server's csvlog with every statement logged, of a session written for this test. */
async function serverLog(dir: string): Promise<string> {
  const cluster = await startPgCluster({ host: '127.0.94.1', port: 15_451, settings: { logging_collector: 'on', log_destination: 'csvlog', log_statement: 'all', log_directory: 'log', log_filename: 'server' } });
  try {
    const client = new pg.Client({ connectionString: cluster.url(), application_name: 'ledger' });
    await client.connect();
    await client.query('CREATE TABLE notes (id int, author text, body text)');
    await client.query('INSERT INTO notes VALUES ($1, $2, $3)', [1, "o'brien", null]);
    await client.query({ name: 'by-id', text: 'SELECT * FROM notes WHERE id = $1', values: [1] });
    await client.query('SELECT 1; SELECT 2');
    await client.query('SELECT 1 / 0').catch(() => undefined);
    await client.query('SELECT count(*) FROM notes');
    await client.end();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const logDir = join(cluster.dataDir, 'log');
    const file = join(dir, 'server.csv');
    copyFileSync(join(logDir, readdirSync(logDir).find((f) => f.endsWith('.csv')) as string), file);
    return file;
  } finally {
    await cluster.stop();
  }
}

describe.runIf(ready)("PostgreSQL's csvlog as a capture of statements", () => {
  it('reads every statement a real server logged, in session order, with bound parameters and the SQLSTATE of the one that failed', async () => {
    await withTempDir(async (dir) => {
      const file = await serverLog(dir);
      const db = join(dir, 'store.duckdb');
      const result = await runParity(['import', file, '--name', 'ledger', '--db', db]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/ledger\s*│\s*6\s*│\s*1\s*│\s*ok/);
      await withStore(db, async (store) => {
        const rows = await store.query('SELECT seq, kind, query, params, sqlstate, application, db_user FROM pg_statements ORDER BY seq');
        expect(rows.map((r) => [Number(r.seq), str(r.kind), str(r.query), r.params === null ? null : JSON.parse(str(r.params)), r.sqlstate === null ? null : str(r.sqlstate)])).toEqual([
          [0, 'simple', 'CREATE TABLE notes (id int, author text, body text)', null, null],
          [1, 'extended', 'INSERT INTO notes VALUES ($1, $2, $3)', ['1', "o'brien", null], null],
          [2, 'extended', 'SELECT * FROM notes WHERE id = $1', ['1'], null],
          [3, 'simple', 'SELECT 1; SELECT 2', null, null],
          [4, 'simple', 'SELECT 1 / 0', null, '22012'],
          [5, 'simple', 'SELECT count(*) FROM notes', null, null],
        ]);
        expect(rows.every((r) => str(r.application) === 'ledger' && str(r.db_user) === 'postgres')).toBe(true);
      });
    });
  }, 60_000);

  it('a log cut inside a quoted field keeps the statements before it and says so in one line, exit 2', async () => {
    await withTempDir(async (dir) => {
      const file = await serverLog(dir);
      const text = readFileSync(file, 'utf8');
      const cut = join(dir, 'cut.csv');
      writeFileSync(cut, text.slice(0, text.indexOf('SELECT 1 / 0') + 5));
      const result = await runParity(['import', cut, '--db', join(dir, 'cut.duckdb')]);
      expect(result.code).toBe(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^parity: .*cut\.csv: line \d+: .*; the 4 statements before it are kept$/);
    });
  }, 60_000);
});
