import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const FAULT_RELAY = join(import.meta.dirname, '../peers/fault-relay.mjs');

/** Processes whose command line mentions `text` (this test's relay and backends), from ps. */
function processesMentioning(text: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

describe('a run that fails leaves nothing running (subprocess)', () => {
  it('parity run whose relay dies mid-run exits on its own with 1, naming the failure, and leaves no child behind', async () => {
    await withTempDir(async (dir) => {
      const marker = '127.0.75.1:20500';
      writeFileSync(
        join(dir, 'dies.yaml'),
        [
          'name: dies',
          'traffic: { generate: { devices: 6, duration: 60s, interval: 3s } }',
          'relay:',
          '  external:',
          '    address: 127.0.75.1',
          `    command: exec "${process.execPath}" "${FAULT_RELAY}" --listen ${marker} --primary 127.0.75.2 --mirror 127.0.75.3 --die-after-ms 1500`,
          '    ready_after: 500ms',
          'backends: { primary: { address: 127.0.75.2 }, mirror: { address: 127.0.75.3 } }',
          'replay: { speed: 10x, ack_timeout: 1s }',
          '',
        ].join('\n'),
      );
      // The subprocess must end by itself: a timer, socket or child left alive would hold it past this bound.
      const run = await runParity(['run', join(dir, 'dies.yaml'), '--db', join(dir, 's.duckdb'), '--out', join(dir, 'reports')], { timeoutMs: 60_000 });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/exited \(code 3\) during the run/);
      expect(run.stderr.trim().split('\n').filter((line) => line.startsWith('parity:'))).toHaveLength(1);
      expect(processesMentioning(marker)).toEqual([]);
      const runs = JSON.parse((await runParity(['runs', '--db', join(dir, 's.duckdb'), '--json'])).stdout) as { status: string }[];
      expect(runs).toEqual([expect.objectContaining({ status: 'failed' })]);
    });
  });
});
