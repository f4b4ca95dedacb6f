import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generic } from '../../src/protocols/generic.ts';
import type { ReplayPlan } from '../../src/replay/replay-plan.ts';
import { replayCapture, type ReplayRunOptions } from '../../src/run/replay-run.ts';
import { allowedCpus } from '../../src/replay/sender-cpu.ts';
import { sampleDevices } from '../../src/replay/uplink-source.ts';
import { getRun } from '../../src/store/runs.ts';
import { num } from '../../src/store/store.ts';
import { relayIoPaths } from '../helpers/relay-io-paths.ts';
import { startReplayRig, type ReplayRig } from '../helpers/replay-rig.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

let rig: ReplayRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const plan = (pace: ReplayPlan['pace'], extra: Partial<ReplayPlan> = {}): ReplayPlan => ({ pace, loops: 1, durationMs: undefined, sample: 1, seed: 1, ...extra });

function options(r: ReplayRig, sinkIp: string, replayPlan: ReplayPlan, extra: Partial<ReplayRunOptions> = {}): ReplayRunOptions {
  return { store: r.store, capture: 'fleet', relayHost: sinkIp, portMap: new Map(), plan: replayPlan, protocol: generic, devices: '127.21.0.0/16', ackTimeoutMs: 500, ...extra };
}

describe('replayer over real UDP', () => {
  // The plan is checked exactly (every send scheduled at its capture offset / speed); how closely it is held is
  // measured by `npm run bench -- replay`, never here: a busy machine may run any send late.
  it.each([
    { speed: 1, sinkIp: '127.0.6.1' },
    { speed: 10, sinkIp: '127.0.6.2' },
  ])('schedules every send at its capture offset / $speed and sends on that plan, recording every send and ACK', async ({ speed, sinkIp }) => {
    await withTempDir(async (dir) => {
      // 4 devices, one report a second each, 1 ms apart.
      rig = await startReplayRig(dir, sinkIp, { devices: 4, perDevice: speed === 1 ? 3 : 20 });
      const result = await replayCapture(options(rig, sinkIp, plan({ kind: 'original', speed })));
      expect(result.status).toBe('completed');
      expect(result.stats.sent).toBe(rig.written.length);
      const captureStart = rig.written[0]?.tsNs ?? 0n;
      const rows = await rig.store.query('SELECT scheduled_ns, actual_ns FROM sends ORDER BY send_no');
      const scheduled = rows.map((r) => num(r.scheduled_ns));
      const planned = rig.written.map((p) => Number(p.tsNs - captureStart) / speed);
      scheduled.forEach((ns, i) => expect(Math.abs(ns - (scheduled[0] as number) - (planned[i] as number))).toBeLessThan(2));
      // No send goes before its time.
      expect(rows.every((r) => num(r.actual_ns) >= num(r.scheduled_ns))).toBe(true);
      await waitFor(() => rig!.arrivals.length === rig!.written.length, 'every send to reach the sink');
      const counts = await rig.store.query("SELECT (SELECT count(*) FROM sends) AS sends, (SELECT count(*) FROM observations WHERE leg = 'relay>device') AS acks");
      expect(counts[0]).toEqual({ sends: BigInt(rig.written.length), acks: BigInt(rig.written.length) });
    });
  });

  it('plans a ramp from its start rate to its end rate, and sends all of it', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, '127.0.6.3', { devices: 20, perDevice: 200 });
      const result = await replayCapture(options(rig, '127.0.6.3', plan({ kind: 'ramp', fromPps: 200, toPps: 2000, overMs: 1500 }, { durationMs: 1500 })));
      const rows = await rig.store.query('SELECT scheduled_ns FROM sends ORDER BY send_no');
      const times = rows.map((row) => num(row.scheduled_ns));
      const start = times[0] as number;
      const plannedIn = (fromMs: number, toMs: number): number => times.filter((t) => t - start >= fromMs * 1e6 && t - start < toMs * 1e6).length;
      // Rate 200 + 1200 t pps: 64 packets are due in the first 200 ms, 376 in the last 200 ms, 1,650 in all.
      expect(Math.abs(plannedIn(0, 200) - 64)).toBeLessThanOrEqual(1);
      expect(Math.abs(plannedIn(1300, 1500) - 376)).toBeLessThanOrEqual(1);
      expect(Math.abs(result.stats.sent - 1650)).toBeLessThanOrEqual(1);
      await waitFor(() => rig!.arrivals.length === result.stats.sent, 'every send to reach the sink');
    });
  });

  it('stops on interruption, keeps everything sent, and marks the run interrupted', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, '127.0.6.5', { devices: 5, perDevice: 200 });
      const abort = new AbortController();
      // Interrupted once 50 packets have arrived, whenever that is: the plan has 1,000 at 500 pps.
      const watching = waitFor(() => rig!.arrivals.length >= 50, '50 arrivals', 60_000).then(() => abort.abort());
      const result = await replayCapture(options(rig, '127.0.6.5', plan({ kind: 'rate', ratePps: 500 }), { signal: abort.signal, runName: 'cut' }));
      await watching;
      expect(result.status).toBe('interrupted');
      expect(result.stats.sent).toBeGreaterThanOrEqual(50);
      expect(result.stats.sent).toBeLessThan(1000);
      const rows = await rig.store.query("SELECT status, (SELECT count(*) FROM sends) n FROM runs WHERE name = 'cut'");
      expect(rows[0]).toEqual({ status: 'interrupted', n: BigInt(result.stats.sent) });
    });
  });

  it('lets go of its capture stream when it stops before the end, so replays after it in the same store run', async () => {
    await withTempDir(async (dir) => {
      // 20,000 packets at 1,000 pps for 0.3 s: the replay stops with nearly all of its sorted capture unread.
      rig = await startReplayRig(dir, '127.0.6.9', { devices: 20, perDevice: 1000 });
      const sortHeld = async (): Promise<number> => {
        const [row] = await rig!.store.query("SELECT coalesce(sum(memory_usage_bytes), 0) AS held FROM duckdb_memory() WHERE tag = 'ORDER_BY'");
        return num(row?.held);
      };
      for (const runName of ['first', 'second', 'third']) {
        const result = await replayCapture(options(rig, '127.0.6.9', plan({ kind: 'rate', ratePps: 1000 }, { durationMs: 300 }), { runName }));
        expect(result.status).toBe('completed');
        expect(result.stats.sent).toBeGreaterThan(0);
        expect(result.stats.sent).toBeLessThan(20_000);
        // The query is ended, not left for the collector: its sort held the capture in the buffer pool, and the next
        // replay's capped pool (64 MB) ran out at its commit (a 300k-packet capture, second replay).
        expect(await sortHeld()).toBe(0);
      }
      const rows = await rig.store.query('SELECT name, status FROM runs ORDER BY run_id');
      expect(rows.map((row) => [row.name, row.status])).toEqual([['first', 'completed'], ['second', 'completed'], ['third', 'completed']]);
    });
  });

  it('samples devices deterministically for a seed, taking whole devices', async () => {
    const devices = Array.from({ length: 400 }, (_, i) => `10.20.${i >> 8}.${i & 255}:4000`);
    const a = sampleDevices(devices, 0.25, 7);
    expect(sampleDevices(devices, 0.25, 7)).toEqual(a);
    expect(sampleDevices(devices, 0.25, 8)).not.toEqual(a);
    expect(a.length).toBeGreaterThan(70);
    expect(a.length).toBeLessThan(130);
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, '127.0.6.6', { devices: 40, perDevice: 3 });
      const result = await replayCapture(options(rig, '127.0.6.6', plan({ kind: 'max' }, { sample: 0.5, seed: 3 })));
      const sentDevices = await rig.store.query('SELECT device, count(*) n FROM sends GROUP BY device');
      expect(sentDevices.length).toBe(result.stats.devices);
      expect(sentDevices.every((row) => row.n === 3n)).toBe(true);
      expect(result.stats.devices).toBeGreaterThan(10);
      expect(result.stats.devices).toBeLessThan(30);
    });
  });

  // --sender-cpu: the sending thread alone on its CPU while it sends, every other thread of the process on the
  // others, and the process back on all of them after. Read from the kernel's own account of each thread.
  it.runIf(cpuCount >= 2 && tasksetPresent)('runs the sending thread alone on the CPU given, and puts the process back after', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, '127.0.6.7', { devices: 5, perDevice: 100 });
      const before = threadCpus();
      const seen: string[][] = [];
      const result = await replayCapture(options(rig, '127.0.6.7', plan({ kind: 'rate', ratePps: 1000 }), { senderCpu: 1, runName: 'pinned', onProgress: () => void seen.push(threadCpus()) }));
      expect(result.stats.sent).toBe(500);
      // The run says how it was replayed: its lateness depends on it.
      expect((await getRun(rig.store, 'pinned')).plan?.senderCpu).toBe(1);
      expect(seen.length).toBeGreaterThan(0);
      for (const lists of seen) {
        expect(lists.filter((list) => list === '1')).toHaveLength(1);
        expect(lists.filter((list) => list !== '1').every((list) => !list.split(',').includes('1') && !/^0-/.test(list) && list !== '')).toBe(true);
      }
      expect(new Set(threadCpus())).toEqual(new Set(before));
    });
  });

  // --sender-cpu auto (the command's default): a CPU of its own from 10k pps planned, where there are two to share.
  it.runIf(cpuCount >= 2 && tasksetPresent)('auto gives the sending thread the last CPU at 25k pps, and none at 1k pps', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, '127.0.6.9', { devices: 10, perDevice: 500 });
      const last = allowedCpus().at(-1) as number;
      const seen: string[][] = [];
      const fast = await replayCapture(options(rig, '127.0.6.9', plan({ kind: 'rate', ratePps: 25_000 }), { senderCpu: 'auto', runName: 'fast', onProgress: () => void seen.push(threadCpus()) }));
      expect(fast.stats.sent).toBe(5000);
      expect((await getRun(rig.store, 'fast')).plan?.senderCpu).toBe(last);
      expect(fast.stats.senderCpu).toBe(last);
      expect(seen.some((lists) => lists.filter((list) => list === String(last)).length === 1)).toBe(true);
      const slow = await replayCapture(options(rig, '127.0.6.9', plan({ kind: 'rate', ratePps: 1000 }, { durationMs: 300 }), { senderCpu: 'auto', runName: 'slow' }));
      expect(slow.stats.sent).toBeGreaterThan(0);
      expect((await getRun(rig.store, 'slow')).plan?.senderCpu).toBeUndefined();
      expect(slow.stats.senderCpu).toBeNull();
    });
  });

  it('refuses a CPU the process may not run on, before any run exists', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, '127.0.6.8', { devices: 2, perDevice: 5 });
      await expect(replayCapture(options(rig, '127.0.6.8', plan({ kind: 'max' }), { senderCpu: 4095, runName: 'pinned' }))).rejects.toThrow(/^--sender-cpu 4095: this process may run on CPUs /);
      expect(await rig.store.query("SELECT name FROM runs WHERE name = 'pinned'")).toEqual([]);
    });
  });
});

const cpuCount = availableParallelism();
const tasksetPresent = spawnSync('taskset', ['-V']).status === 0;

/** Each thread's allowed CPUs, as the kernel lists them (`0-1`, `1`, `0`). */
function threadCpus(): string[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      return [/^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))?.[1] ?? ''];
    } catch {
      return [];
    }
  });
}

// The devices' sockets are on the C datagram path where it is built, else on Node's dgram: both, where both exist.
describe.each(relayIoPaths().map((io) => io.kind))('replayer devices on %s', (io) => {
  beforeEach(() => {
    process.env.PARITY_UDP_IO = io;
  });
  afterEach(() => {
    delete process.env.PARITY_UDP_IO;
  });

    it('keeps per-device order under max and sends each device from its own address', async () => {
      await withTempDir(async (dir) => {
        rig = await startReplayRig(dir, io === 'native' ? '127.0.6.4' : '127.0.6.14', { devices: 30, perDevice: 50 });
        const result = await replayCapture(options(rig, io === 'native' ? '127.0.6.4' : '127.0.6.14', plan({ kind: 'max' })));
        expect(result.stats.sent).toBe(1500);
        await waitFor(() => rig!.arrivals.length === 1500, 'every send to reach the sink');
        const byDevice = new Map<string, string[]>();
        for (const arrival of rig.arrivals) byDevice.set(`${arrival.srcIp}:${arrival.srcPort}`, [...(byDevice.get(`${arrival.srcIp}:${arrival.srcPort}`) ?? []), Buffer.from(arrival.payload).toString()]);
        expect(new Set(rig.arrivals.map((a) => a.srcIp)).size).toBe(30);
        for (const reports of byDevice.values()) {
          const numbers = reports.map((text) => Number(text.split(' ').at(-1)));
          expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
          expect(numbers).toHaveLength(50);
        }
        // Each original device is one local address, and the mapping is recorded.
        const mapping = await rig.store.query('SELECT device, count(DISTINCT local_ip) n FROM sends GROUP BY device');
        expect(mapping).toHaveLength(30);
        expect(mapping.every((row) => row.n === 1n)).toBe(true);
      });
    });

  it('counts the sends a relay refused (nothing listens there) and accounts for every packet, at full speed', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, io === 'native' ? '127.0.6.17' : '127.0.6.18', { devices: 4, perDevice: 300 });
      // Nothing listens at this address: each device's socket is connected to the relay's one port, so the kernel's
      // refusal of one datagram fails the device's next send (ECONNREFUSED), which is counted, never retried as sent.
      const refusing = io === 'native' ? '127.0.6.19' : '127.0.6.20';
      const result = await replayCapture(options(rig, refusing, plan({ kind: 'max' }), { ackTimeoutMs: 0 }));
      expect(result.stats.sent).toBe(1200);
      expect(result.stats.sendErrors).toBeGreaterThan(0);
      expect(result.stats.sendErrors).toBeLessThan(1200);
      expect(result.stats.sendErrorsByKind).toEqual({ refused: result.stats.sendErrors });
      const [row] = await rig.store.query('SELECT count(*) AS n, count(DISTINCT send_no) AS distinct_sends FROM sends');
      expect(row).toEqual({ n: 1200n, distinct_sends: 1200n });
      expect(rig.arrivals).toHaveLength(0);
    });
  });

  // At 20k pps the sending thread spins its waits (on the C path, inside sendDue, which reads replies there too).
  it('records every ACK once, at the device that sent the request, when it answers a paced replay of 20k pps', async () => {
    await withTempDir(async (dir) => {
      const sinkIp = io === 'native' ? '127.0.6.21' : '127.0.6.22';
      rig = await startReplayRig(dir, sinkIp, { devices: 50, perDevice: 100 });
      const result = await replayCapture(options(rig, sinkIp, plan({ kind: 'rate', ratePps: 20_000 }), { ackTimeoutMs: 2000 }));
      expect(result.status).toBe('completed');
      expect(result.stats.sent).toBe(5000);
      expect(result.stats.sendErrors).toBe(0);
      expect(result.stats.acks).toBe(5000);
      // Per device: as many ACKs as requests, each sent to the device's own socket, each an ACK, none before the
      // device's first send (the kernel's arrival stamps and the sends' issue times are on the same clock).
      const perDevice = await rig.store.query(`
        WITH s AS (SELECT local_ip, local_port, count(*) AS sent, min(actual_ns) AS first_ns FROM sends GROUP BY ALL),
             a AS (SELECT dst_ip, dst_port, count(*) AS acks, min(ts_ns) AS first_ack_ns,
                          bool_and(starts_with(decode(payload), 'ACK')) AS all_acks
                   FROM observations WHERE leg = 'relay>device' GROUP BY ALL)
        SELECT count(*) AS devices, count(*) FILTER (WHERE a.acks = s.sent AND a.all_acks AND a.first_ack_ns >= s.first_ns) AS right
        FROM s LEFT JOIN a ON a.dst_ip = s.local_ip AND a.dst_port = s.local_port`);
      expect(perDevice[0]).toEqual({ devices: 50n, right: 50n });
    });
  });

  it('counts every refusal of a relay nothing listens at, when the replay is paced at 20k pps', async () => {
    await withTempDir(async (dir) => {
      rig = await startReplayRig(dir, io === 'native' ? '127.0.6.23' : '127.0.6.24', { devices: 4, perDevice: 500 });
      const refusing = io === 'native' ? '127.0.6.25' : '127.0.6.26';
      const result = await replayCapture(options(rig, refusing, plan({ kind: 'rate', ratePps: 20_000 }), { ackTimeoutMs: 0 }));
      expect(result.stats.sent).toBe(2000);
      // Each refusal fails the socket's next send or read, whichever comes first; either way it is counted.
      expect(result.stats.sendErrors).toBeGreaterThan(0);
      expect(result.stats.sendErrorsByKind).toEqual({ refused: result.stats.sendErrors });
      expect(result.stats.acks).toBe(0);
    });
  });

  it('records every send and every ACK the devices got, at 10x the capture', async () => {
    await withTempDir(async (dir) => {
      const sinkIp = io === 'native' ? '127.0.6.15' : '127.0.6.16';
      rig = await startReplayRig(dir, sinkIp, { devices: 4, perDevice: 20 });
      const result = await replayCapture(options(rig, sinkIp, plan({ kind: 'original', speed: 10 })));
      expect(result.status).toBe('completed');
      expect(result.stats.sent).toBe(rig.written.length);
      expect(result.stats.sendErrors).toBe(0);
      await waitFor(() => rig!.arrivals.length === rig!.written.length, 'every send to reach the sink');
      const counts = await rig.store.query("SELECT (SELECT count(*) FROM sends) AS sends, (SELECT count(*) FROM observations WHERE leg = 'relay>device') AS acks");
      expect(counts[0]).toEqual({ sends: BigInt(rig.written.length), acks: BigInt(rig.written.length) });
    });
  });
});
