import { spawn, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { generic } from '../../src/protocols/generic.ts';
import { renderHtmlReport } from '../../src/report/html-report.ts';
import { renderMarkdownReport } from '../../src/report/markdown-report.ts';
import { loadChartData } from '../../src/report/report-data.ts';
import { renderTerminalReport } from '../../src/report/terminal-report.ts';
import { latenessCauses } from '../../src/replay/replay-figures.ts';
import type { ReplayPlan } from '../../src/replay/replay-plan.ts';
import { allowedCpus } from '../../src/replay/sender-cpu.ts';
import { replayCapture, type ReplayRunOptions } from '../../src/run/replay-run.ts';
import { startReplayRig, type ReplayRig } from '../helpers/replay-rig.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

// What the sending thread says about its late sends: the stretches it could not send, and whose they were. The
// stalls are made for real (the main thread held, a busy process on the sending thread's CPU), never simulated.

let rig: ReplayRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const plan = (pace: ReplayPlan['pace']): ReplayPlan => ({ pace, loops: 1, durationMs: undefined, sample: 1, seed: 1 });

function options(r: ReplayRig, sinkIp: string, replayPlan: ReplayPlan, extra: Partial<ReplayRunOptions> = {}): ReplayRunOptions {
  return { store: r.store, capture: 'fleet', relayHost: sinkIp, portMap: new Map(), plan: replayPlan, protocol: generic, devices: '127.22.0.0/16', ackTimeoutMs: 0, ...extra };
}

describe("the sending thread's account of its stalls", () => {
  it('counts the batches the main thread handed over after they were due, and by how much', async () => {
    await withTempDir(async (dir) => {
      // 60,000 packets at 100k pps: the main thread queues 32 batches of 1,024 (0.33 s) before it waits, then is held
      // for 600 ms once the clock starts, so the sending thread runs dry for about a quarter of a second.
      rig = await startReplayRig(dir, '127.0.6.40', { devices: 40, perDevice: 1500 });
      const holdMs = 600;
      const result = await replayCapture(
        options(rig, '127.0.6.40', plan({ kind: 'rate', ratePps: 100_000 }), {
          onStart: () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, holdMs),
        }),
      );
      expect(result.stats.sent).toBe(60_000);
      const late = result.stats.senderLateBatches;
      expect(late?.times).toBeGreaterThanOrEqual(1);
      // The time it sat idle with packets due: at least what the hold left uncovered, and no more than the run lasted.
      expect(late?.ms).toBeGreaterThan(100);
      expect(late?.ms).toBeLessThan(result.stats.durationSec * 1000);
      expect(result.stats.lateness.maxUs / 1000).toBeGreaterThan(100);
      expect(latenessCauses(result.stats)).toMatch(/the main thread handed it (1 batch|\d+ batches) late \([\d.]+ ms in all\)/);
      // Kept with the run: the reports say it under the replay's lateness, from the store.
      const analysis = await analyseRun(rig.store, result.runName);
      for (const report of [renderTerminalReport(analysis, { colour: false }), renderMarkdownReport(analysis), renderHtmlReport(analysis, await loadChartData(rig.store, analysis))]) {
        expect(report).toMatch(/late sends: .*the main thread handed it/);
      }
    });
  });

  // The last CPU this process may run on, for the sending thread (the rest of the process moves to the others).
  const cpus = process.platform === 'linux' ? allowedCpus() : [];
  const senderCpu = cpus.at(-1);
  const pinnable = cpus.length >= 2 && senderCpu !== undefined && spawnSync('taskset', ['-V']).status === 0;
  it.skipIf(!pinnable)('counts the time other threads kept it off its CPU (a busy process on the CPU it is pinned to)', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, '127.0.6.41', { devices: 20, perDevice: 1000 });
      // A process that never sleeps, on the CPU the sending thread is given: the scheduler shares that CPU between them.
      const busy = spawn('taskset', ['-c', String(senderCpu), process.execPath, '-e', 'const end = Date.now() + 20000; while (Date.now() < end);'], { stdio: 'ignore' });
      try {
        const result = await replayCapture(options(rig, '127.0.6.41', plan({ kind: 'rate', ratePps: 20_000 }), { senderCpu }));
        expect(result.stats.sent).toBe(20_000);
        const offCpu = result.stats.senderWaitedForCpu;
        expect(offCpu?.times).toBeGreaterThan(0);
        expect(offCpu?.ms).toBeGreaterThan(1);
        // Never more than the run lasted.
        expect(offCpu?.ms).toBeLessThan(result.stats.durationSec * 1000);
      } finally {
        busy.kill('SIGKILL');
      }
    });
  });

  it('explains a long tail only, naming each cause it counted', () => {
    const lateness = { p50Us: 10, p99Us: 900, maxUs: 5000, meanUs: 20 };
    const stalls = { senderWaitedForCpu: { times: 3, ms: 4.25 }, senderCollections: { count: 2, totalMs: 3, maxMs: 2, bySecond: [] }, senderLateBatches: { times: 0, ms: 0 } };
    expect(latenessCauses({ lateness, ...stalls })).toBeUndefined();
    expect(latenessCauses({ lateness: { ...lateness, p99Us: 1500 }, ...stalls })).toBe(
      "late sends: other threads took the sending thread's CPU 3 times (4.3 ms in all); its collector stopped it 2 times (3.0 ms in all, the longest 2.0 ms)",
    );
    // Nothing counted (dgram on a platform without /proc, say): nothing to say rather than a guess.
    expect(latenessCauses({ lateness: { ...lateness, p99Us: 1500 }, senderWaitedForCpu: null, senderCollections: null, senderLateBatches: null })).toBeUndefined();
  });
});
