import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

  describe('with a capture imported once (each refusal leaves the store without a run)', () => {
    const imported = { dir: '', db: '' };
    beforeAll(async () => {
      imported.dir = mkdtempSync(join(tmpdir(), 'parity-test-'));
      const file = join(imported.dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 2, perDevice: 2 });
      imported.db = join(imported.dir, 'p.duckdb');
      expect((await runParity(['import', file, '--db', imported.db, '--port', '20500'])).code).toBe(0);
    });
    afterAll(() => rmSync(imported.dir, { recursive: true, force: true }));

    it.each([
      { args: ['--devices', '10.0.0.0/33'], message: /--devices: "10\.0\.0\.0\/33" is not an IPv4 block/ },
      { args: ['--ack-timeout', '200'], message: /"200" has no unit: write 200ms or 200s/ },
      { args: ['--relay', 'not-an-ip.invalid'], message: /--relay "not-an-ip\.invalid" is neither an IP address nor a host name that resolves/ },
      // The devices' sockets are IPv4: the sending thread failed on its first datagram, an "unexpected error".
      { args: ['--relay', '::1'], message: /--relay "::1" is an IPv6 address: the devices send from IPv4 addresses/ },
      { args: ['--port-map', '20500=21500,20500=21501'], message: /--port-map maps route 20500 twice \(to 21500 and 21501\)/ },
      { args: ['--port-map', '20500=21500,20501=21500'], message: /--port-map maps routes 20500 and 20501 both to relay port 21500/ },
      { args: ['--sender-cpu', 'first'], message: /--sender-cpu: "first" is not auto, none or a CPU's number from 0 to 4095/ },
      // Checked as the sending thread is placed, once the devices are bound: still before the run is made.
      { args: ['--sender-cpu', '4095'], message: /--sender-cpu 4095: this process may run on CPUs / },
    ])('refuses bad replay arguments before a run exists: $args', async ({ args, message }) => {
      const relay = args[0] === '--relay' ? [] : ['--relay', '127.0.17.2'];
      const replay = await runParity(['replay', 'fleet', ...relay, '--db', imported.db, ...args]);
      expect(replay.code).toBe(2);
      expect(replay.stderr).toMatch(message);
      const runs = await runParity(['runs', '--db', imported.db, '--json']);
      expect(JSON.parse(runs.stdout)).toEqual([]);
    });
  });
});
