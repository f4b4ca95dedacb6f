import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

// A mistyped --db used to leave an empty store behind (opening a path makes one) and the command then said the run
// or capture was not in it. A command that needs what a store holds names the missing store instead, and a listing
// lists nothing; neither makes a file.
describe('a --db path with no store there', () => {
  it.each([
    [['analyse', 'nightly-1']],
    [['report', 'nightly-1', '--format', 'json']],
    [['export', 'nightly-1', '--parquet', 'out']],
    [['replay', 'fleet', '--relay', '127.0.0.1']],
    [['runs', 'nightly-1']],
    [['captures', 'fleet']],
  ])('parity %j: one line naming the path, exit 2, no store made', async (args) => {
    await withTempDir(async (dir) => {
      const run = await runParity([...args, '--db', 'typo.duckdb'], { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toEqual(['parity: typo.duckdb: no store there (parity import, record, run and demo make one; --db names it)']);
      expect(readdirSync(dir)).toEqual([]);
    });
  });

  it.each([['runs'], ['captures']])('parity %s lists nothing and makes no store', async (command) => {
    await withTempDir(async (dir) => {
      const listed = await runParity([command, '--db', 'typo.duckdb'], { cwd: dir });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(new RegExp(`^no ${command} in typo.duckdb`));
      const json = await runParity([command, '--db', 'typo.duckdb', '--json'], { cwd: dir });
      expect(JSON.parse(json.stdout)).toEqual([]);
      expect(existsSync(join(dir, 'typo.duckdb'))).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    });
  });

  // Store.open decides, whatever the command: one command a kind of path keeps the suite's time.
  it.each([
    ['a capture', (path: string): void => copyFileSync(join(import.meta.dirname, '../../fixtures/fleet-calamp.pcap'), path), ['runs']],
    ['an empty file', (path: string): void => writeFileSync(path, ''), ['analyse', 'nightly-1']],
    ['a directory', (path: string): void => mkdirSync(path), ['import', join(import.meta.dirname, '../../fixtures/fleet-calamp.pcap')]],
  ])('a --db that names %s, not a store: one line naming it, exit 2 (bad input, not a fault of the harness), left as it was', async (_what, make, args) => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'wrong.duckdb');
      make(path);
      const before = readdirSync(dir);
      const run = await runParity([...args, '--db', path]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr.startsWith(`parity: ${path}: not a DuckDB store (`)).toBe(true);
      expect(readdirSync(dir)).toEqual(before);
    });
  });

  it('parity runs NAME in a store without that run: one line that says what it holds, exit 2 (it said "no runs in" the store)', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'p.duckdb');
      expect((await runParity(['import', join(import.meta.dirname, '../../fixtures/fleet-calamp.pcap'), '--db', db])).code).toBe(0);
      const run = await runParity(['runs', 'nightly-1', '--db', db]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toEqual([`parity: run "nightly-1" is not in ${db} (it holds no runs yet)`]);
    });
  });
});
