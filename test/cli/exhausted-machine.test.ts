import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const FIXTURE = join(import.meta.dirname, '../../fixtures/fleet-calamp.pcap');

/** What a machine that ran out prints: one line, saying what ran out and what to do, never "unexpected error". */
function expectOneLineNamingTheFix(run: { code: number | null; stderr: string }, fix: RegExp): void {
  expect(run.code, run.stderr).not.toBe(0);
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^parity: /);
  expect(lines[0]).toMatch(fix);
  expect(lines[0]).not.toMatch(/unexpected error/);
}

describe('a machine that runs out', () => {
  it('DuckDB out of the memory it may use: the error says to raise PARITY_MEMORY_LIMIT', async () => {
    await withTempDir(async (dir) => {
      const run = await runParity(['import', FIXTURE, '--db', join(dir, 'small.duckdb')], { env: { PARITY_MEMORY_LIMIT: '2MB' } });
      expectOneLineNamingTheFix(run, /Out of Memory Error.*raise PARITY_MEMORY_LIMIT/);
    });
  });

  // A disk that fills is made with a 512 KB tmpfs (a store of the fixture takes 1.6 MB, an empty one 0.27 MB), which only root with the right to mount can make: elsewhere the test says so and skips.
  let disk: string | undefined;
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'parity-full-disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512K', 'tmpfs', dir], { stdio: 'ignore' });
      disk = dir;
    } catch {
      rmSync(dir, { recursive: true, force: true });
      console.warn('cannot mount a tmpfs here (not root, or no right to mount): the full-disk test did NOT run');
    }
  });
  afterAll(() => {
    if (disk === undefined) return;
    execFileSync('umount', [disk], { stdio: 'ignore' });
    rmSync(disk, { recursive: true, force: true });
  });

  it('a full disk: the error says so, and where to free space', async (context) => {
    if (disk === undefined) return context.skip();
    const run = await runParity(['import', FIXTURE, '--db', join(disk, 'full.duckdb')]);
    expectOneLineNamingTheFix(run, /No space left on device.*the disk is full: free space where the store/);
  });
});
