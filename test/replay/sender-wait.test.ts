import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { loadUdpIo, UDP_IO_PATH } from '../../src/core/udp-io/udp-io.ts';
import { generic } from '../../src/protocols/generic.ts';
import { ParkMargin } from '../../src/replay/park-margin.js';
import type { ReplayPlan } from '../../src/replay/replay-plan.ts';
import { replayCapture, type ReplayRunOptions } from '../../src/run/replay-run.ts';
import { num } from '../../src/store/store.ts';
import { startReplayRig, type ReplayRig } from '../helpers/replay-rig.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

const built = loadUdpIo() !== undefined;

describe('the margin a parked wait wakes by', () => {
  it('starts where it is told, then follows 1.5 times the 99th percentile of the wakes plus 20 µs, within its bounds', () => {
    const margin = new ParkMargin(50_000, 1_000_000, 200_000);
    expect(margin.ns).toBe(200_000);
    // 15 wakes: not yet enough to learn from.
    for (let i = 0; i < 15; i++) margin.woke(10_000);
    expect(margin.ns).toBe(200_000);
    margin.woke(10_000);
    // Every wake 10 µs late: 35 µs is under the least margin.
    expect(margin.ns).toBe(50_000);
    // A park shorter than 250 µs gives little back and costs a tail: such a wait is spun.
    expect(margin.parks(299_000)).toBe(false);
    expect(margin.parks(300_000)).toBe(true);
    // Wakes 100-355 µs late: the 99th percentile of the 256 remembered is the 253rd smallest.
    for (let i = 0; i < 256; i++) margin.woke(100_000 + i * 1000);
    expect(margin.ns).toBe((100_000 + Math.floor(0.99 * 255) * 1000) * 1.5 + 20_000);
    // A machine that wakes its threads 5 ms late: the margin stops at its bound, and the waits under it are spun.
    for (let i = 0; i < 256; i++) margin.woke(5_000_000);
    expect(margin.ns).toBe(1_000_000);
    expect(margin.parks(1_200_000)).toBe(false);
    expect(margin.parks(1_250_000)).toBe(true);
  });

  it('tries a smaller margin again after 256 waits spun for want of one, so a busy spell does not decide for good', () => {
    const margin = new ParkMargin(50_000, 1_000_000, 800_000);
    for (let i = 0; i < 255; i++) expect(margin.parks(500_000)).toBe(false);
    expect(margin.ns).toBe(800_000);
    expect(margin.parks(500_000)).toBe(false);
    expect(margin.ns).toBe(600_000);
    for (let i = 0; i < 256; i++) margin.parks(500_000);
    expect(margin.ns).toBe(450_000);
    expect(margin.parks(700_000)).toBe(true);
  });
});

/**
 * Runs the addon's park and realtime in a thread of their own, whose event loop has nothing else to wake it: the
 * test runner's own messages would.
 */
function inFreshThread(): Promise<{ idle: number; ready: number; realtime: number; policyOn: number; policyOff: number }> {
  const source = `
    const { createRequire } = require('node:module');
    const { readFileSync } = require('node:fs');
    const dgram = require('node:dgram');
    const { parentPort, workerData } = require('node:worker_threads');
    const io = createRequire(workerData.path)(workerData.path);
    const policy = () => Number(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')[38]);
    const realtime = io.realtime(true);
    const policyOn = policy();
    io.realtime(false);
    const policyOff = policy();
    const ip = (127 << 24 | 9 << 8 | 31) >>> 0;
    const fd = io.open(ip, 0, 65536);
    const watch = io.watch(fd, 1, () => {});
    const sender = dgram.createSocket('udp4');
    // A new thread's loop has its own start-up events to handle first: parked waits then time out, up to 50 tries.
    let idle = 1;
    const settle = (tries) => {
      idle = io.park(2e6);
      if (idle === 1 && tries < 50) return setTimeout(() => settle(tries + 1), 10);
      // libuv has added the socket to its epoll set by now.
      sender.send(Buffer.from('wake'), io.localPort(fd), '127.0.9.31', () => {
        const ready = io.park(30e9);
        io.close(watch);
        sender.close();
        parentPort.postMessage({ idle, ready, realtime, policyOn, policyOff });
      });
    };
    settle(0);
  `;
  const worker = new Worker(source, { eval: true, workerData: { path: UDP_IO_PATH } });
  return new Promise((resolve, reject) => {
    worker.once('message', (result) => {
      resolve(result);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe.skipIf(!built)('parking a thread (udp-io.c)', () => {
  it('returns 0 after its time with nothing to read, and 1 as soon as a socket of the thread has a datagram', async () => {
    const result = await inFreshThread();
    expect(result.idle).toBe(0);
    // 1, not 0: woken by the datagram, long before the 30 s it was given.
    expect(result.ready).toBe(1);
  });

  it('makes the thread real-time (SCHED_FIFO) where the system allows it, and ordinary again', async () => {
    const result = await inFreshThread();
    expect(result.policyOff).toBe(0);
    // -EPERM without CAP_SYS_NICE: the thread stays ordinary.
    if (result.realtime === 0) expect(result.policyOn).toBe(1);
    else expect([result.realtime, result.policyOn]).toEqual([-1, 0]);
  });
});

let rig: ReplayRig | undefined;
afterEach(async () => {
  delete process.env.PARITY_SENDER_WAIT;
  await rig?.close();
  rig = undefined;
});

const SINK_IP = '127.0.6.31';
const plan = (pace: ReplayPlan['pace']): ReplayPlan => ({ pace, loops: 1, durationMs: undefined, sample: 1, seed: 1 });
const options = (r: ReplayRig, runName: string, pace: ReplayPlan['pace']): ReplayRunOptions => ({
  store: r.store,
  capture: 'fleet',
  relayHost: SINK_IP,
  portMap: new Map(),
  plan: plan(pace),
  protocol: generic,
  devices: '127.22.0.0/16',
  ackTimeoutMs: 500,
  runName,
});

describe('how the sending thread waits between sends', () => {
  it.skipIf(!built)('parked: sends on plan, reads every ACK, says so, and spends a fraction of the CPU of a spinning thread', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, SINK_IP, { devices: 20, perDevice: 20 });
      const cpu: Record<string, number | null | undefined> = {};
      for (const wait of ['spin', 'park'] as const) {
        process.env.PARITY_SENDER_WAIT = wait;
        const result = await replayCapture(options(rig, wait, { kind: 'rate', ratePps: 200 }));
        cpu[wait] = result.stats.senderCpuSec;
        expect(result.status).toBe('completed');
        expect(result.stats.sent).toBe(400);
        expect(result.stats.senderWaits).toEqual(wait === 'spin' ? 'spun' : expect.stringMatching(/^parked(, real-time)?$/));
        const [row] = await rig.store.query(
          `SELECT count(*) AS sends, count(*) FILTER (WHERE actual_ns < scheduled_ns) AS early,
                  (SELECT count(*) FROM observations o JOIN runs r USING (run_id) WHERE r.name = $name AND o.leg = 'relay>device') AS acks
           FROM sends JOIN runs USING (run_id) WHERE name = $name`,
          { name: wait },
        );
        // Every send, none before its time, and every ACK read by a thread that was asleep when it came.
        expect(row).toEqual({ sends: 400n, early: 0n, acks: 400n });
      }
      await waitFor(() => rig!.arrivals.length === 800, 'both replays to reach the sink');
      // 5 ms between sends: the spinning thread sleeps on a timer until 1.5 ms before each and spins the rest (30% of
      // a core); the parked one parks all but its margin, which a busy machine raises to 1 ms at most (20% at worst).
      // A virtual machine's halted CPU wakes late, so its margin is 0.5-0.8 ms there: 0.3-0.5 of the spinning one's.
      expect(num(cpu.spin)).toBeGreaterThan(0);
      expect(num(cpu.park)).toBeLessThan(num(cpu.spin) * 0.8);
    });
  });

  it.skipIf(!built)('spun in C between sends (5k pps): every send at or after its time, in order, every ACK read with its arrival time', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, SINK_IP, { devices: 20, perDevice: 50 });
      process.env.PARITY_SENDER_WAIT = 'spin';
      const result = await replayCapture(options(rig, 'spun-in-c', { kind: 'rate', ratePps: 5000 }));
      expect(result.stats.sent).toBe(1000);
      const [row] = await rig.store.query(
        `WITH s AS (SELECT scheduled_ns, actual_ns, lag(actual_ns) OVER (ORDER BY send_no) AS before
                    FROM sends JOIN runs USING (run_id) WHERE name = 'spun-in-c')
         SELECT count(*) AS sends, count(*) FILTER (WHERE actual_ns < scheduled_ns) AS early,
                count(*) FILTER (WHERE actual_ns < before) AS out_of_order,
                (SELECT count(*) FROM observations o JOIN runs r USING (run_id) WHERE r.name = 'spun-in-c' AND o.leg = 'relay>device') AS acks
         FROM s`,
      );
      expect(row).toEqual({ sends: 1000n, early: 0n, out_of_order: 0n, acks: 1000n });
      // The k-th answer a device got is to its k-th request (the sink answers each at once, in order): stamped by the
      // kernel on the replayer's clock, it is after the send it answers, and never seconds off (a clock mixed up).
      const [trip] = await rig.store.query(
        `WITH s AS (SELECT local_ip, local_port, actual_ns, row_number() OVER (PARTITION BY local_ip, local_port ORDER BY send_no) AS k
                    FROM sends JOIN runs USING (run_id) WHERE name = 'spun-in-c'),
              a AS (SELECT dst_ip, dst_port, ts_ns, row_number() OVER (PARTITION BY dst_ip, dst_port ORDER BY ts_ns) AS k
                    FROM observations JOIN runs USING (run_id) WHERE name = 'spun-in-c' AND leg = 'relay>device')
         SELECT count(*) AS pairs, min(a.ts_ns - s.actual_ns) AS fastest, max(a.ts_ns - s.actual_ns) AS slowest
         FROM s JOIN a ON a.dst_ip = s.local_ip AND a.dst_port = s.local_port AND a.k = s.k`,
      );
      expect(trip?.pairs).toBe(1000n);
      expect(num(trip?.fastest)).toBeGreaterThan(0);
      expect(num(trip?.slowest)).toBeLessThan(2e9);
    });
  });

  it('refuses a PARITY_SENDER_WAIT that names no way of waiting, before any run exists', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, SINK_IP, { devices: 2, perDevice: 5 });
      process.env.PARITY_SENDER_WAIT = 'nap';
      await expect(replayCapture(options(rig, 'napping', { kind: 'max' }))).rejects.toThrow(/^PARITY_SENDER_WAIT: "nap" is not one of auto, park, spin$/);
      expect(await rig.store.query("SELECT name FROM runs WHERE name = 'napping'")).toEqual([]);
    });
  });
});
