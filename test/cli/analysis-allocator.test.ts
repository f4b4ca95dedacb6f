import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateRun } from '../../bench/analyse.ts';
import { ALLOCATOR_MARKER, analysisEnv, ANALYSIS_TUNABLES, envForAnalysis, wantsAnalysisAllocator } from '../../src/cli/analysis-allocator.js';
import { createRun, finishRun } from '../../src/store/runs.ts';
import { num, withStore } from '../../src/store/store.ts';
import { PARITY_BIN, runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { childrenOf, processState } from '../helpers/process-state.ts';

/** A run of `uplinks` packets mirrored to two backends, written in SQL as the analysis bench writes its runs. */
async function storeRun(db: string, uplinks: number): Promise<void> {
  await withStore(db, async (store) => {
    const runId = await createRun(store, { name: 'mirrored', kind: 'replay', protocol: 'generic', startedNs: 1_000_000_000n });
    await generateRun(store, runId, uplinks);
    await finishRun(store, runId, 'completed', 2_000_000_000n + BigInt(uplinks) * 100_000n);
  });
}

// glibc reads its settings only as a process starts, so `parity analyse` and `parity report` start themselves again
// with them (src/cli/analysis-allocator.js): one arena, no request given a mapping of its own, so that what DuckDB's
// operators free stays for their next request.
describe('parity analyse and glibc’s allocator', () => {
  it('sets the analysis’s settings after any the user gave, and marks the process so that it starts once', () => {
    expect(analysisEnv({ PATH: '/bin' })).toEqual({ PATH: '/bin', GLIBC_TUNABLES: ANALYSIS_TUNABLES, [ALLOCATOR_MARKER]: 'analysis' });
    expect(analysisEnv({ GLIBC_TUNABLES: 'glibc.malloc.check=3' }).GLIBC_TUNABLES).toBe(`glibc.malloc.check=3:${ANALYSIS_TUNABLES}`);
    const linux = process.platform === 'linux';
    expect(wantsAnalysisAllocator(['node', 'parity.js', 'analyse', 'run-1'], {})).toBe(linux);
    expect(wantsAnalysisAllocator(['node', 'parity.js', 'report', 'run-1', '--format', 'json'], {})).toBe(linux);
    expect(wantsAnalysisAllocator(['node', 'parity.js', 'analyse', 'run-1'], analysisEnv({}))).toBe(false);
    // A user who wants glibc's defaults kept says so with the marker, whatever its value.
    expect(wantsAnalysisAllocator(['node', 'parity.js', 'analyse', 'run-1'], { [ALLOCATOR_MARKER]: 'default' })).toBe(false);
    // Other commands keep glibc's defaults: a replay's sending thread is not to share one arena's lock with DuckDB's.
    for (const command of ['replay', 'relay', 'record', 'run', 'demo', 'runs']) expect(wantsAnalysisAllocator(['node', 'parity.js', command], {})).toBe(false);
    expect(envForAnalysis({ [ALLOCATOR_MARKER]: 'default' })).toEqual({ [ALLOCATOR_MARKER]: 'default' });
  });

  it.runIf(process.platform === 'linux')('gives the same verdict, output and exit status restarted as with glibc’s defaults', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'p.duckdb');
      await storeRun(db, 2_000);
      const restarted = await runParity(['analyse', 'mirrored', '--db', db], { env: { NODE_DEBUG: 'parity' } });
      const plain = await runParity(['analyse', 'mirrored', '--db', db], { env: { NODE_DEBUG: 'parity', [ALLOCATOR_MARKER]: 'default' } });
      expect(restarted.stderr.match(/starting again with glibc set for an analysis/g)).toHaveLength(1);
      expect(plain.stderr).not.toMatch(/starting again/);
      expect(restarted.code).toBe(plain.code);
      // The mirror lost 1% of the copies: NO-GO either way, with the same report.
      expect(restarted.code).toBe(1);
      expect(restarted.stdout).toMatch(/NO-GO/);
      expect(restarted.stdout).toBe(plain.stdout);
    });
  }, 120_000);

  it.runIf(process.platform === 'linux')('ends the analysis when the parity process that started it is killed, and the store stays readable', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'p.duckdb');
      // Long enough to analyse (seconds) that the kill comes first: the restarted process is killed while starting.
      await storeRun(db, 300_000);
      const parent = spawn(process.execPath, [PARITY_BIN, 'analyse', 'mirrored', '--db', db], { stdio: 'ignore' });
      const parentPid = parent.pid as number;
      await waitFor(() => childrenOf(parentPid).length > 0, 'the restarted analysis to start');
      const [analysing] = childrenOf(parentPid) as [number];
      const exited = new Promise((resolve) => parent.once('exit', resolve));
      parent.kill('SIGKILL');
      await exited;
      // Gone, or a zombie its new parent has not reaped yet.
      await waitFor(() => (processState(analysing) ?? 'Z') === 'Z', 'the orphaned analysis to end', 30_000);
      await withStore(db, async (store) => {
        const [row] = await store.query("SELECT count(*) AS verdicts FROM verdicts JOIN runs USING (run_id) WHERE name = 'mirrored'");
        expect(num(row?.verdicts)).toBe(0);
      });
      const again = await runParity(['analyse', 'mirrored', '--db', db], { timeoutMs: 120_000 });
      expect(again.code, again.stderr).toBe(1);
      expect(again.stdout).toMatch(/NO-GO/);
    });
  }, 180_000);
});
