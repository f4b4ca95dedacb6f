import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { generic } from '../../src/protocols/generic.ts';
import { withStore } from '../../src/store/store.ts';
import { readProgressFiles } from '../../src/store/progress-file.ts';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

afterEach(killAllParity);

interface ListedCapture {
  name: string;
  keptDatagrams: number;
  partial: boolean;
  writing: boolean;
  error: string | null;
}

async function listed(db: string, name: string): Promise<ListedCapture> {
  const run = await runParity(['captures', name, '--db', db, '--json']);
  expect(run.code, run.stderr).toBe(0);
  const [capture] = JSON.parse(run.stdout) as ListedCapture[];
  if (capture === undefined) throw new Error(`capture ${name} not listed`);
  return capture;
}

/** Packets of the capture whose address ids resolve to no address: a killed writer must never leave any. */
async function unresolvedPackets(db: string): Promise<number> {
  return withStore(db, async (store) => {
    const [row] = await store.query(
      `SELECT count(*)::INTEGER AS n FROM capture_packets p
       WHERE NOT EXISTS (SELECT 1 FROM capture_addresses a WHERE a.capture_id = p.capture_id AND a.address_id = p.src_address)
          OR NOT EXISTS (SELECT 1 FROM capture_addresses a WHERE a.capture_id = p.capture_id AND a.address_id = p.dst_address)`,
    );
    return Number(row?.n);
  });
}

describe('a writer killed with -9 leaves a partial capture, never a clean one (subprocess)', () => {
  it('parity record --capture keeps every packet it had committed; the capture is listed partial', async () => {
    await withTempDir(async (dir) => {
      const backend = new SimulatedBackend({ protocol: generic, ip: '127.0.15.2', ports: [24960], role: 'primary' });
      await backend.start();
      const client = await UdpClient.open('127.0.15.3');
      try {
        const db = join(dir, 'rec.duckdb');
        // Commits at least every 250 ms (the default is 10 s): the test waits for them.
        const record = spawnParity(['record', '--tap', '127.0.15.1:24960=127.0.15.2:24960', '--capture', 'tapped', '--commit-every', '250ms', '--db', db]);
        expect(await record.waitForOutput((_out, err) => err.includes('recording through'))).toBe(true);
        const settled = 1000;
        for (let i = 0; i < settled; i++) {
          await client.send(Buffer.from(`settled ${i}`), 24960, '127.0.15.1');
          if (i % 100 === 99) await client.waitForReplies(i + 1);
        }
        expect(await client.waitForReplies(settled)).toBe(settled);
        // Killed once the recording says every settled request and reply is committed (beside its store, about once a
        // second): how long DuckDB's threads, behind the forwarding one, take over it is the machine's, not under test.
        await waitFor(() => readProgressFiles(db).some((r) => Number(r.progress.committed) >= 2 * settled), 'the settled packets committed', 30_000);
        for (let i = 0; i < 100; i++) await client.send(Buffer.from(`last ${i}`), 24960, '127.0.15.1');
        await record.stop('SIGKILL');

        const capture = await listed(db, 'tapped');
        // Each settled request and its reply passed the tap.
        expect(capture.keptDatagrams).toBeGreaterThanOrEqual(2 * settled);
        expect(capture.keptDatagrams).toBeLessThanOrEqual(2 * (settled + 100));
        expect(capture).toMatchObject({ partial: true, writing: false, error: expect.stringMatching(/cut off: its writer \(process \d+ on .+\) stopped before finishing/) });
        expect(await unresolvedPackets(db)).toBe(0);
        const table = await runParity(['captures', '--db', db]);
        expect(table.stdout).toMatch(/tapped.*partial/);
      } finally {
        await client.close();
        await backend.stop();
      }
    });
  });

  it('parity record --run killed with -9 leaves an abandoned run with its committed observations; its report is INCOMPLETE', async () => {
    await withTempDir(async (dir) => {
      const backend = new SimulatedBackend({ protocol: generic, ip: '127.0.15.5', ports: [24961], role: 'primary' });
      await backend.start();
      const client = await UdpClient.open('127.0.15.6');
      try {
        const db = join(dir, 'rec.duckdb');
        const record = spawnParity(['record', '--tap', '127.0.15.4:24961=127.0.15.5:24961', '--run', 'shadow', '--protocol', 'generic', '--commit-every', '250ms', '--db', db]);
        expect(await record.waitForOutput((_out, err) => err.includes('recording through'))).toBe(true);
        for (let i = 0; i < 200; i++) {
          await client.send(Buffer.from(`settled ${i}`), 24961, '127.0.15.4');
          if (i % 50 === 49) await client.waitForReplies(i + 1);
        }
        expect(await client.waitForReplies(200)).toBe(200);
        // Killed once the recording says all 400 are committed: how long that takes is the machine's.
        await waitFor(() => readProgressFiles(db).some((r) => Number(r.progress.committed) >= 400), 'the 400 observations committed', 30_000);
        await record.stop('SIGKILL');

        const runs = await runParity(['runs', '--db', db, '--json']);
        expect(JSON.parse(runs.stdout)).toEqual([expect.objectContaining({ name: 'shadow', status: 'abandoned' })]);
        const observed = await withStore(db, async (store) => {
          const [row] = await store.query('SELECT count(*)::INTEGER AS n FROM observations');
          return Number(row?.n);
        });
        expect(observed).toBeGreaterThanOrEqual(400);
        const report = await runParity(['report', 'shadow', '--db', db, '--out', join(dir, 'reports'), '--format', 'table']);
        expect(report.code, report.stderr).toBe(1);
        expect(report.stdout).toMatch(/INCOMPLETE/);
      } finally {
        await client.close();
        await backend.stop();
      }
    });
  });

  it('parity backend --db killed with -9: its record is not whole, so the report is INCOMPLETE naming it, and --partial analyses it with a warning', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 4, perDevice: 10, port: 18176 });
      expect((await runParity(['import', file, '--name', 'sample', '--port', '18176'], { cwd: dir })).code).toBe(0);
      const primary = spawnParity(['backend', '--listen', '127.0.15.12:18176', '--role', 'primary', '--protocol', 'generic', '--db', 'primary.duckdb', '--run', 'cut'], { cwd: dir });
      expect(await primary.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      // Straight to the backend: nothing here is about a relay.
      const replay = await runParity(['replay', 'sample', '--relay', '127.0.15.12', '--speed', 'max', '--protocol', 'generic', '--run', 'cut'], { cwd: dir });
      expect(replay.code, replay.stderr).toBe(0);
      // Killed once something is committed (the backend says so beside its store): a record cut short, not an empty one.
      await waitFor(() => readProgressFiles(join(dir, 'primary.duckdb')).some((r) => Number(r.progress.committed) > 0), 'the backend\'s first commit', 30_000);
      await primary.stop('SIGKILL');

      const report = await runParity(['report', 'cut', '--observations', 'primary.duckdb', '--format', 'table'], { cwd: dir });
      expect(report.stderr).toMatch(/primary\.duckdb \(primary\): [1-9][\d,]* observations merged; its recording \(pid \d+ on [^)]+\) died before it closed the store, so what it received after its last commit is missing from the record/);
      expect(report.code, report.stderr).toBe(1);
      expect(report.stdout).toMatch(/CRITICAL\s+primary's record is not whole \(primary\.duckdb: its recording \(pid \d+ on [^)]+\) died before it closed the store/);
      expect(report.stdout).toMatch(/verdict for cut: INCOMPLETE/);

      const partial = await runParity(['report', 'cut', '--observations', 'primary.duckdb', '--format', 'table', '--partial'], { cwd: dir });
      expect(partial.stdout).toMatch(/WARNING\s+(primary: )?partial analysis: primary's record is not whole/);
      expect(partial.stdout).not.toMatch(/INCOMPLETE/);
    });
  });

  it('parity import killed half-way keeps what it committed, is listed partial, and can be replaced', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 500, perDevice: 200 });
      const db = join(dir, 'p.duckdb');
      // The same file 45 times over makes one capture long enough (9M datagrams) to be killed in the middle, after its
      // first commit: an import commits what it had read at each 2 s tick, once DuckDB has stored it, and on a fast
      // machine that was most of a 3M-datagram capture, committed moments before the end.
      const files = Array.from({ length: 45 }, () => file);
      const total = files.length * 2 * 500 * 200;
      // NODE_DEBUG=parity reports each commit: the kill lands after some rows are committed and before the end.
      const importing = spawnParity(['import', ...files, '--name', 'big', '--port', '20500', '--db', db], { env: { NODE_DEBUG: 'parity' } });
      const committed = (): number => Math.max(0, ...[...importing.stderr().matchAll(/capture \d+ committed (\d+) packets/g)].map((m) => Number(m[1])));
      await waitFor(() => committed() > 0, 'the import to commit its first rows', 60_000);
      await importing.stop('SIGKILL');

      const capture = await listed(db, 'big');
      expect(capture.keptDatagrams).toBeGreaterThanOrEqual(committed());
      expect(capture.keptDatagrams).toBeLessThan(total);
      expect(capture).toMatchObject({ partial: true, writing: false, error: expect.stringMatching(/cut off/) });
      expect(await unresolvedPackets(db)).toBe(0);

      const again = await runParity(['import', file, '--name', 'big', '--port', '20500', '--db', db, '--replace']);
      expect(again.code, again.stderr).toBe(0);
      expect(await listed(db, 'big')).toMatchObject({ keptDatagrams: 2 * 500 * 200, partial: false, error: null });
    });
  });

  it('parity captures NAME for a name the store does not hold says so and exits 2', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 2, perDevice: 2 });
      const db = join(dir, 'p.duckdb');
      await runParity(['import', file, '--db', db, '--port', '20500']);
      const run = await runParity(['captures', 'nosuch', '--db', db]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toMatch(/^parity: capture "nosuch" is not in .*p\.duckdb \(captures in it: fleet\)$/);
    });
  });
});
