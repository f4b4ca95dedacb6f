import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { generic } from '../../src/protocols/generic.ts';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

afterEach(killAllParity);

describe('runs that cannot lie (subprocess)', () => {
  it('a replay killed with -9 is abandoned: its report is INCOMPLETE and exits 1, unless a partial analysis is asked for', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 5, perDevice: 400 });
      const db = join(dir, 'p.duckdb');
      expect((await runParity(['import', file, '--db', db, '--port', '20500'])).code).toBe(0);
      let arrived = 0;
      const sink = new SimulatedBackend({ protocol: generic, ip: '127.0.17.1', ports: [20500], role: 'sink', sink: { add: (o) => void (o.leg === 'relay>sink' && arrived++) } });
      await sink.start();
      try {
        const replay = spawnParity(['replay', 'fleet', '--relay', '127.0.17.1', '--rate', '200pps', '--protocol', 'generic', '--devices', '127.22.0.0/16', '--run', 'killed', '--db', db]);
        await waitFor(() => arrived >= 20, 'the replay to be under way', 60_000);
        await replay.stop('SIGKILL');
        const report = await runParity(['report', 'killed', '--db', db, '--out', join(dir, 'reports'), '--format', 'table,json']);
        expect(report.code, report.stderr).toBe(1);
        expect(report.stdout).toMatch(/run killed was abandoned: its process \(pid \d+ on .+\) died while it ran/);
        expect(report.stdout).toMatch(/INCOMPLETE/);
        const partial = await runParity(['analyse', 'killed', '--db', db, '--partial']);
        expect(partial.stdout.split('\n')[0]).toMatch(/^PARTIAL ANALYSIS: run killed is abandoned/);
        expect(partial.stdout).not.toMatch(/verdict for killed: GO \(/);
        const runs = await runParity(['runs', '--db', db, '--json']);
        expect(JSON.parse(runs.stdout)).toEqual([expect.objectContaining({ name: 'killed', status: 'abandoned' })]);
      } finally {
        await sink.stop();
      }
    });
  });

  it.each([
    { args: ['--devices', '10.0.0.0/33'], message: /--devices: "10\.0\.0\.0\/33" is not an IPv4 block/ },
    { args: ['--ack-timeout', '200'], message: /"200" has no unit: write 200ms or 200s/ },
    { args: ['--relay', 'not-an-ip.invalid'], message: /--relay "not-an-ip\.invalid" is neither an IP address nor a host name that resolves/ },
    { args: ['--sender-cpu', 'first'], message: /--sender-cpu: "first" is not auto, none or a CPU's number from 0 to 4095/ },
    // Checked as the sending thread is placed, once the devices are bound: still before the run is made.
    { args: ['--sender-cpu', '4095'], message: /--sender-cpu 4095: this process may run on CPUs / },
  ])('refuses bad replay arguments before a run exists: $args', async ({ args, message }) => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 2, perDevice: 2 });
      const db = join(dir, 'p.duckdb');
      await runParity(['import', file, '--db', db, '--port', '20500']);
      const replay = await runParity(['replay', 'fleet', '--relay', '127.0.17.2', '--db', db, ...args]);
      expect(replay.code).toBe(2);
      expect(replay.stderr).toMatch(message);
      const runs = await runParity(['runs', '--db', db, '--json']);
      expect(JSON.parse(runs.stdout)).toEqual([]);
    });
  });
});
