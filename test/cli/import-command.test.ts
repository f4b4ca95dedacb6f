import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const noStackTrace = (text: string): void => expect(text).not.toMatch(/\n\s+at .*:\d+:\d+/);

describe('parity import / parity captures (subprocess)', () => {
  it('imports a capture and lists it, as a table and as JSON', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcapng');
      writeFleetCapture(file, { devices: 3, perDevice: 2, format: 'pcapng' });
      const db = join(dir, 'p.duckdb');
      const imported = await runParity(['import', file, '--db', db]);
      expect(imported.code).toBe(0);
      expect(imported.stdout).toMatch(/fleet\s+│\s+12\s+│\s+12/);
      const listed = await runParity(['captures', '--db', db]);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain('fleet');
      const json = await runParity(['captures', '--db', db, '--json']);
      const [capture] = JSON.parse(json.stdout) as { name: string; devices: number; routePorts: number[]; frames: number }[];
      expect(capture).toMatchObject({ name: 'fleet', devices: 3, routePorts: [20500], frames: 12 });
    });
  });

  it.each([
    { name: 'a missing file', setup: (_dir: string) => 'missing.pcap', message: /missing\.pcap: no such file/ },
    {
      name: 'a file that is not a capture',
      setup: (dir: string) => {
        writeFileSync(join(dir, 'text.pcap'), 'hello');
        return 'text.pcap';
      },
      message: /text\.pcap: is not a pcap or pcapng capture .*byte offset 0/,
    },
    {
      name: 'a file cut short mid-packet',
      setup: (dir: string) => {
        const path = join(dir, 'cut.pcap');
        writeFleetCapture(path, { devices: 1, perDevice: 2 });
        writeFileSync(path, readFileSync(path).subarray(0, -5));
        return 'cut.pcap';
      },
      message: /cut\.pcap: file ends inside .* at byte offset \d+; kept the 3 complete frames/,
    },
  ])('gives $name one clear line naming the file, exit 2, no stack trace', async ({ setup, message }) => {
    await withTempDir(async (dir) => {
      const file = setup(dir);
      const run = await runParity(['import', file, '--db', 'p.duckdb'], { cwd: dir });
      expect(run.code).toBe(2);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      noStackTrace(run.stderr);
    });
  });

  it('marks a cut-short capture partial in the listing', async () => {
    await withTempDir(async (dir) => {
      const path = join(dir, 'cut.pcap');
      writeFleetCapture(path, { devices: 1, perDevice: 2 });
      writeFileSync(path, readFileSync(path).subarray(0, -5));
      await runParity(['import', path, '--db', 'p.duckdb'], { cwd: dir });
      const json = await runParity(['captures', '--json', '--db', 'p.duckdb'], { cwd: dir });
      const [capture] = JSON.parse(json.stdout) as { partial: boolean; keptDatagrams: number }[];
      expect(capture).toMatchObject({ partial: true, keptDatagrams: 3 });
    });
  });

  it('rejects a bad --port with exit 2 and names the value', async () => {
    const run = await runParity(['import', 'x.pcap', '--port', '70000']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('"70000" is not a port');
    noStackTrace(run.stderr);
  });
});
