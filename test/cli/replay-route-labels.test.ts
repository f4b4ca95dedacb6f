import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayProcess } from '../../src/scenario/relay-process.ts';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

afterEach(killAllParity);

describe('parity replay --relay-debug (subprocess)', () => {
  it('takes the route labels from the relay\'s /debug/config into the run, so reports name the routes', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 3, perDevice: 4, port: 20510 });
      const db = join(dir, 'p.duckdb');
      expect((await runParity(['import', file, '--name', 'labelled', '--port', '20510', '--db', db])).code).toBe(0);
      for (const [role, ip] of [['primary', '127.0.74.2'], ['mirror', '127.0.74.3']] as const) {
        const backend = spawnParity(['backend', '--listen', `${ip}:20510`, '--role', role, '--protocol', 'generic', '--db', join(dir, `${role}.duckdb`), '--run', 'labelled-1']);
        expect(await backend.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      }
      const relay = await RelayProcess.start(dir, {
        address: '127.0.74.1',
        responseTimeoutMs: 1000,
        routes: { globals: { mirror: true, mirror_ip: '127.0.74.3' }, routes: [{ port: 20510, target: '127.0.74.2', customer: 'acme-fleet', Device: 'calamplmd' }] },
      });
      try {
        const replay = await runParity(['replay', 'labelled', '--relay', '127.0.74.1', '--speed', 'max', '--relay-debug', relay.debugUrl, '--protocol', 'generic', '--run', 'labelled-1', '--db', db]);
        expect(replay.code, replay.stderr).toBe(0);
        const report = await runParity(['analyse', 'labelled-1', '--db', db, '--observations', `${join(dir, 'primary.duckdb')},${join(dir, 'mirror.duckdb')}`]);
        expect(report.stdout).toMatch(/devices: ACKs received 12/);
        expect(report.stdout).toMatch(/20510 acme-fleet\/calamplmd/);
      } finally {
        await relay.stop();
      }
    });
  });
});
