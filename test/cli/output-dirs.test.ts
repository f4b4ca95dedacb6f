import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withStore } from '../../src/store/store.ts';
import { quickRun } from '../helpers/quick-run.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

// An --out or --parquet that names a file ended the command with Node's own words as an "unexpected error", exit 1: a
// fault of the harness to a CI gate reading the exit code. A --db below a file did the same as a fault of the store.
describe('where a command is told to write is a file', () => {
  it('parity report --out, parity export --parquet and --db: one line naming the path, exit 2, the file left as it was', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'p.duckdb');
      const runName = await withStore(db, async (store) => (await quickRun(store, dir, { name: 'outs' })).runName);
      const file = join(dir, 'taken');
      writeFileSync(file, 'mine');
      mkdirSync(join(dir, 'reports'), { recursive: true });
      const cases = [
        { args: ['report', runName, '--db', db, '--out', file, '--format', 'json'], says: `--out ${join(file, runName)}: cannot be made a directory (it, or a directory above it, is a file)` },
        { args: ['export', runName, '--db', db, '--parquet', file], says: `--parquet ${file}: cannot be made a directory (it, or a directory above it, is a file)` },
        { args: ['import', join(import.meta.dirname, '../../fixtures/fleet-calamp.pcap'), '--db', join(file, 'p.duckdb')], says: `--db ${file}: cannot be made a directory (it, or a directory above it, is a file)` },
      ];
      for (const { args, says } of cases) {
        const run = await runParity(args);
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr.trim().split('\n')).toHaveLength(1);
        expect(run.stderr).toContain(says);
      }
      expect(readFileSync(file, 'utf8')).toBe('mine');
    });
  }, 60_000);
});
