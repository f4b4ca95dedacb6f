import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFleetCapture } from '../helpers/fleet-capture.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { readProgressFiles } from '../../src/store/progress-file.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { processState } from '../helpers/process-state.ts';

afterEach(killAllParity);

describe('observation stores of running backends (subprocess)', () => {
  it('a backend store that observed nothing is a dead leg for the verdict, named, not a usage error', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 4, perDevice: 5, port: 18173 });
      expect((await runParity(['import', file, '--name', 'sample', '--port', '18173'], { cwd: dir })).code).toBe(0);
      const primary = spawnParity(['backend', '--listen', '127.0.73.2:18173', '--role', 'primary', '--protocol', 'generic', '--db', 'primary.duckdb', '--run', 'dead-mirror'], { cwd: dir });
      const mirror = spawnParity(['backend', '--listen', '127.0.73.3:18173', '--role', 'mirror', '--protocol', 'generic', '--db', 'mirror.duckdb', '--run', 'dead-mirror'], { cwd: dir });
      for (const backend of [primary, mirror]) expect(await backend.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      // A "relay" that never mirrors: the replay goes straight to the primary.
      const replay = await runParity(['replay', 'sample', '--relay', '127.0.73.2', '--speed', 'max', '--protocol', 'generic', '--run', 'dead-mirror'], { cwd: dir });
      expect(replay.code, replay.stderr).toBe(0);
      // Read while both backends still run.
      const report = await runParity(['report', 'dead-mirror', '--observations', 'primary.duckdb,mirror.duckdb', '--format', 'table'], { cwd: dir });
      expect(report.stderr).toMatch(/mirror\.duckdb \(mirror\): 0 observations merged: nothing was observed there, a dead leg/);
      expect(report.code, report.stderr).toBe(1);
      expect(report.stdout).toMatch(/CRITICAL mirror: .*(nothing|no traffic|carried none)/i);
      expect(report.stdout).toMatch(/verdict for dead-mirror: NO-GO/);
    });
  });

  it.skipIf(process.platform !== 'linux')("what the kernel dropped at a backend process's socket travels with its store and is named as the harness's", async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 2, perDevice: 5, port: 18174 });
      expect((await runParity(['import', file, '--name', 'sample', '--port', '18174'], { cwd: dir })).code).toBe(0);
      const backend = spawnParity(['backend', '--listen', '127.0.73.8:18174', '--role', 'primary', '--protocol', 'generic', '--db', 'primary.duckdb', '--run', 'dropped', '--json'], { cwd: dir });
      expect(await backend.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      const replay = await runParity(['replay', 'sample', '--relay', '127.0.73.8', '--speed', 'max', '--protocol', 'generic', '--run', 'dropped'], { cwd: dir });
      expect(replay.code, replay.stderr).toBe(0);
      // The backend's process stopped (SIGSTOP) while 12 MB arrive at its socket: more than its buffer holds.
      const pid = backend.child.pid as number;
      const sender = createSocket('udp4');
      const datagrams = 200;
      process.kill(pid, 'SIGSTOP');
      try {
        await waitFor(() => processState(pid) === 'T', 'the backend to stop', 5_000);
        for (let i = 0; i < datagrams; i++) await new Promise<void>((resolve, reject) => sender.send(Buffer.alloc(60_000, i), 18174, '127.0.73.8', (e) => (e ? reject(e) : resolve())));
      } finally {
        process.kill(pid, 'SIGCONT');
        sender.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await backend.stop('SIGINT')).toBe(0);
      const { counters } = JSON.parse(backend.stdout()) as { counters: { received: number; receiveDrops: number } };
      // The replay's 10 packets and the 200 sent while it was stopped: each taken or counted as dropped.
      expect(counters.receiveDrops).toBeGreaterThan(0);
      expect(counters.received + counters.receiveDrops).toBe(10 + datagrams);
      const analysis = await runParity(['analyse', 'dropped', '--observations', 'primary.duckdb'], { cwd: dir });
      expect(analysis.stdout).toMatch(new RegExp(`the simulated primary dropped ${counters.receiveDrops} datagrams on arrival`));
    });
  });

  it('a store held by another process is named with that process, in one line', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'held.duckdb');
      const holder = spawnParity(['record', '--tap', '127.0.73.10:18174=127.0.73.11:18174', '--capture', 'held', '--db', db]);
      expect(await holder.waitForOutput((_out, err) => err.includes('recording through'))).toBe(true);
      const captures = await runParity(['captures', '--db', db]);
      expect(captures.code).toBe(1);
      expect(captures.stderr.trim().split('\n')).toHaveLength(1);
      expect(captures.stderr).toMatch(new RegExp(`held\\.duckdb is in use by process ${holder.child.pid} \\(parity record --tap .*--capture held.*\\): .*use another --db`));
      // parity runs shows what the recording says of itself meanwhile.
      let runs = { code: null as number | null, stdout: '', stderr: '' };
      await waitFor(async () => /recorded/.test((runs = await runParity(['runs', '--db', db])).stdout), 'the recording\'s first progress', 30_000);
      expect(runs.code, runs.stderr).toBe(0);
      expect(runs.stdout).toMatch(/parity record --capture held.*recorded 0/s);
    });
  });

  it('parity runs on a store a replay holds shows the replay\'s progress and ETA instead of failing', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'fleet.pcap');
      writeFleetCapture(file, { devices: 5, perDevice: 200, port: 18175 });
      const db = join(dir, 'p.duckdb');
      expect((await runParity(['import', file, '--name', 'slow', '--port', '18175', '--db', db])).code).toBe(0);
      const replay = spawnParity(['replay', 'slow', '--relay', '127.0.73.20', '--rate', '100pps', '--protocol', 'generic', '--run', 'watched', '--db', db]);
      // Read beside the store, without opening it: a `parity runs` that opened the store first would keep the replay out.
      const reporting = (pid: number | undefined): boolean => readProgressFiles(db).some((r) => r.pid === pid && typeof r.progress.etaSec === 'number');
      await waitFor(() => reporting(replay.child.pid), 'the replay to report its progress', 30_000);
      let runs = { code: null as number | null, stdout: '', stderr: '' };
      await waitFor(async () => /in progress/.test((runs = await runParity(['runs', '--db', db])).stdout), 'the replay\'s first progress', 30_000);
      expect(runs.code, runs.stderr).toBe(0);
      expect(runs.stderr).toMatch(/p\.duckdb is in use by process \d+ \(parity replay slow/);
      expect(runs.stdout).toMatch(/parity replay slow --relay 127\.0\.73\.20 --run watched/);
      expect(runs.stdout).toMatch(/\d+%/);
      type Listed = { inProgress?: { progress: { sent: number; planned: number; etaSec: number | null } }[] };
      // Until the replay has written its first progress, the store is either free or held with nothing to show.
      const listed = async (): Promise<Listed> => {
        const out = (await runParity(['runs', '--db', db, '--json'])).stdout;
        try {
          return JSON.parse(out) as Listed;
        } catch {
          return {};
        }
      };
      let json: Listed = {};
      const withEta = async (): Promise<boolean> => typeof (json = await listed()).inProgress?.[0]?.progress.etaSec === 'number';
      await waitFor(withEta, 'the replay\'s progress with an ETA', 30_000);
      expect(json.inProgress?.[0]?.progress.planned).toBe(1000);
      expect(json.inProgress?.[0]?.progress.etaSec).toBeGreaterThan(0);
      await replay.stop('SIGINT');

      // With --duration the plan ends by time: its total is what that time holds, not the whole capture.
      const timed = spawnParity(['replay', 'slow', '--relay', '127.0.73.20', '--rate', '100pps', '--duration', '8s', '--protocol', 'generic', '--run', 'timed', '--db', db]);
      await waitFor(() => reporting(timed.child.pid), 'the timed replay to report its progress', 30_000);
      await waitFor(withEta, 'the timed replay\'s progress with an ETA', 30_000);
      expect(json.inProgress?.[0]?.progress.planned).toBeLessThan(1000);
      expect(json.inProgress?.[0]?.progress.etaSec).toBeLessThanOrEqual(8);
      await timed.stop('SIGINT');
    });
  });

  it('parity run reports its progress beside the store while it holds it, and removes the report when it ends', async () => {
    await withTempDir(async (dir) => {
      const scenario = join(dir, 'watched.yaml');
      writeFileSync(
        scenario,
        ['name: watched', 'protocol: generic', 'traffic: { generate: { devices: 5, duration: 20s, interval: 1s } }', 'replay: { rate: 40pps }', 'thresholds:', '  ack_latency_p95_ms: { warning: 1000, critical: 5000 }', '  relay_added_latency_p95_ms: { warning: 2000, critical: 10000 }', ''].join('\n'),
      );
      const db = join(dir, 'p.duckdb');
      const refused = await runParity(['run', scenario, '--db', db, '--out', join(dir, 'reports'), '--drain', '11m']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^parity: --drain: "11m" is out of range/m);
      const run = spawnParity(['run', scenario, '--db', db, '--out', join(dir, 'reports'), '--format', 'json']);
      const reporting = (): boolean => readProgressFiles(db).some((r) => r.pid === run.child.pid && r.command.startsWith('parity run') && Number(r.progress.sent) > 0);
      await waitFor(reporting, 'the run to report its progress', 60_000);
      expect(await run.exited).toBe(0);
      expect(readProgressFiles(db)).toEqual([]);
    });
  });
});

