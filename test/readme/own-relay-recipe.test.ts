import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { killAllParity, runParity, spawnParity, type ParityProcess } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { readmeCommandLines, shellWords } from '../helpers/readme.ts';

const README = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
const FAULT_RELAY = join(import.meta.dirname, '../peers/fault-relay.mjs');

afterEach(killAllParity);

/** The README's "your own traffic and your own relay" block, as written. */
function recipe(): string[] {
  const start = README.indexOf('**3. Your own traffic and your own relay.**');
  const block = README.slice(start, README.indexOf('```\n', README.indexOf('```sh', start) + 5) + 4);
  return readmeCommandLines(block);
}

/** Resolves once the forwarder says it is bound; rejects if it exits first or stays silent for 30 s. */
function listening(relay: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay did not start listening within 30 s')), 30_000);
    relay.stdout?.on('data', (chunk: Buffer) => {
      if (!chunk.toString().includes('fault relay on')) return;
      clearTimeout(timer);
      resolve();
    });
    relay.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the relay exited (${String(code)}) before listening`));
    });
  });
}

describe('README: your own traffic and your own relay', () => {
  it('runs as written, on loopback, against an independent relay, and gets the verdict the README promises', async () => {
    await withTempDir(async (dir) => {
      // The README's addresses, moved onto loopback: relay .1, primary .2, mirror .3.
      const local = (text: string): string => text.replace(/10\.9\.0\.(\d)/g, '127.0.72.$1');
      const lines = recipe().map(local);
      expect(lines).toHaveLength(5);
      // The capture the recipe imports: devices talking to the relay's port, as taken on the relay's host.
      writeFleetCapture(join(dir, 'capture-at-relay.pcapng'), { devices: 10, perDevice: 20, port: 18172, format: 'pcapng' });
      // "Your relay": a plain mirroring forwarder written apart from the project (no faults switched on), already running
      // when the recipe starts, as a user's is: on a busy machine its start took longer than the recipe's first steps,
      // and the replay found nothing listening (every send refused).
      const relay = spawn(process.execPath, [FAULT_RELAY, '--listen', '127.0.72.1:18172', '--primary', '127.0.72.2', '--mirror', '127.0.72.3'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const background: ParityProcess[] = [];
      try {
        await listening(relay);
        let report = { code: null as number | null, stdout: '', stderr: '' };
        for (const line of lines) {
          const args = shellWords(line).slice(1);
          if (line.trimEnd().endsWith('&')) {
            const process = spawnParity(args, { cwd: dir });
            expect(await process.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
            background.push(process);
            continue;
          }
          const run = await runParity(args, { cwd: dir, timeoutMs: 90_000 });
          expect(run.code, `${line}\n${run.stderr}\n${run.stdout}`).toBe(0);
          report = run;
        }
        // The report ran while both backends were still up: their stores were readable.
        expect(report.stderr).toMatch(/primary\.duckdb \(primary\): [\d,]+ observations merged/);
        expect(report.stderr).toMatch(/mirror\.duckdb \(mirror\): [\d,]+ observations merged/);
        // The README promises exit 0 and no critical finding for a relay that mirrors faithfully.
        expect(report.stdout).toMatch(/verdict for cutover-1: GO/);
        expect(report.stdout).not.toMatch(/CRITICAL/);
      } finally {
        for (const process of background) await process.stop('SIGTERM');
        relay.kill('SIGTERM');
      }
    });
  });
});
