import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureFileWriter } from '../../src/capture/capture-file-writer.ts';
import { buildUdpFrame } from '../../src/capture/frame-builder.ts';
import { importCaptures } from '../../src/capture/import-capture.ts';
import { getCapture } from '../../src/capture/capture-catalog.ts';
import { captureNsPerReplaySecond, plannedPeakPps } from '../../src/replay/replay-plan.ts';
import { allowedCpus, AUTO_SENDER_CPU_FROM_PPS } from '../../src/replay/sender-cpu.ts';
import { busiestWindowPackets, summarizeUplink } from '../../src/replay/uplink-source.ts';
import { getRun } from '../../src/store/runs.ts';
import { withStore } from '../../src/store/store.ts';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { generic } from '../../src/protocols/generic.ts';
import { replayCapture } from '../../src/run/replay-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const START_NS = 1_700_000_000_000_000_000n;

/**
 * `seconds` of a quiet fleet (20 devices, one report a second between them) with one burst half way: device 7 sends
 * `burst` packets `gapNs` apart. Returns each uplink packet's device and time, for the sliding maximum counted here by
 * brute force.
 */
function writeBurstyCapture(path: string, { seconds, burst, gapNs }: { seconds: number; burst: number; gapNs: bigint }): { device: string; tsNs: bigint }[] {
  const writer = new CaptureFileWriter(path, { format: 'pcap' });
  const sent: { device: string; tsNs: bigint }[] = [];
  const send = (d: number, tsNs: bigint, text: string): void => {
    const device = { ip: `10.0.0.${d + 1}`, port: 30000 + d };
    writer.add(tsNs, buildUdpFrame({ srcIp: device.ip, srcPort: device.port, dstIp: '10.255.0.1', dstPort: 20500, payload: Buffer.from(text) }));
    sent.push({ device: `${device.ip}:${device.port}`, tsNs });
  };
  for (let s = 0; s < seconds; s++) {
    send(s % 20, START_NS + BigInt(s) * 1_000_000_000n + 1_000n, `report ${s}`);
    if (s === seconds / 2) for (let i = 0; i < burst; i++) send(7, START_NS + BigInt(s) * 1_000_000_000n + 100_000_000n + BigInt(i) * gapNs, `burst ${i}`);
  }
  writer.close();
  return sent.sort((a, b) => (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
}

/** The most packets any window of `windowNs` holds, window by window from each packet. */
function slidingMaximum(times: readonly bigint[], windowNs: bigint): number {
  let most = 0;
  let end = 0;
  for (let start = 0; start < times.length; start++) {
    while (end < times.length && (times[end] as bigint) - (times[start] as bigint) < windowNs) end++;
    most = Math.max(most, end - start);
  }
  return most;
}

describe("the busiest second of a replay at the capture's own timing", () => {
  it('is counted from the uplink, so a quiet capture with a burst plans for the burst and not its mean', async () => {
    await withTempDir(async (dir) => {
      const sent = writeBurstyCapture(join(dir, 'bursty.pcap'), { seconds: 100, burst: 600, gapNs: 500_000n });
      await withStore(join(dir, 'a.duckdb'), async (store) => {
        await importCaptures(store, { files: [join(dir, 'bursty.pcap')], ports: [20500] });
        const capture = await getCapture(store, 'bursty');
        for (const [sample, speed] of [[1, 1], [1, 20], [0.5, 1], [0.5, 20]] as const) {
          const uplink = await summarizeUplink(store, capture.captureId, capture.routePorts, sample, 3);
          const chosen = sent.filter((p) => uplink.devices.has(p.device)).map((p) => p.tsNs);
          const truth = slidingMaximum(chosen, BigInt(captureNsPerReplaySecond(speed)));
          const counted = await busiestWindowPackets(store, capture.captureId, capture.routePorts, uplink, captureNsPerReplaySecond(speed));
          expect(counted, `sample ${sample}, x${speed}`).toBeLessThanOrEqual(truth);
          expect(counted, `sample ${sample}, x${speed}`).toBeGreaterThanOrEqual(Math.ceil((2 * truth) / 3));
          const peak = plannedPeakPps({ kind: 'original', speed }, uplink.packets, uplink.spanNs, counted) ?? 0;
          expect(peak).toBeGreaterThanOrEqual(plannedPeakPps({ kind: 'original', speed }, uplink.packets, uplink.spanNs) ?? 0);
          expect(peak).toBe(Math.max(counted, ((uplink.packets - 1) * 1e9 * speed) / uplink.spanNs));
        }
        // All devices at x20: a mean of about 140 pps, a busiest second of the burst's 600 and more.
        const all = await summarizeUplink(store, capture.captureId, capture.routePorts, 1, 3);
        expect(plannedPeakPps({ kind: 'original', speed: 20 }, all.packets, all.spanNs)).toBeLessThan(150);
        expect(await busiestWindowPackets(store, capture.captureId, capture.routePorts, all, captureNsPerReplaySecond(20))).toBeGreaterThanOrEqual(600);
      });
    });
  });

  // --sender-cpu auto, the command's default: a replay whose mean is below the rate from which the sending thread gets a
  // CPU of its own, but whose burst asks for more than that in one second of it, gets one.
  it.runIf(allowedCpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0)('gives the sending thread a CPU of its own for a burst, though the mean alone would share', async () => {
    await withTempDir(async (dir) => {
      // 120 s with 10,500 packets in 0.1 s at 60 s, at x100: 1.2 s of replay at a mean of about 8.9k pps.
      writeBurstyCapture(join(dir, 'bursty.pcap'), { seconds: 120, burst: AUTO_SENDER_CPU_FROM_PPS + 500, gapNs: 10_000n });
      const sink = new SimulatedBackend({ protocol: generic, ip: '127.0.6.62', ports: [20500], role: 'sink', sink: { add: () => undefined } });
      await sink.start();
      try {
        await withStore(join(dir, 'a.duckdb'), async (store) => {
          await importCaptures(store, { files: [join(dir, 'bursty.pcap')], ports: [20500] });
          const capture = await getCapture(store, 'bursty');
          const uplink = await summarizeUplink(store, capture.captureId, capture.routePorts, 1, 1);
          expect(plannedPeakPps({ kind: 'original', speed: 100 }, uplink.packets, uplink.spanNs)).toBeLessThan(AUTO_SENDER_CPU_FROM_PPS);
          const plan = { pace: { kind: 'original', speed: 100 }, loops: 1, durationMs: undefined, sample: 1, seed: 1 } as const;
          const result = await replayCapture({ store, capture: 'bursty', relayHost: '127.0.6.62', portMap: new Map(), plan, protocol: generic, devices: '127.25.0.0/16', ackTimeoutMs: 200, senderCpu: 'auto', runName: 'burst' });
          expect(result.stats.sent).toBe(uplink.packets);
          expect(result.stats.senderCpu).toBe(allowedCpus().at(-1));
          expect((await getRun(store, 'burst')).plan?.senderCpu).toBe(allowedCpus().at(-1));
        });
      } finally {
        await sink.stop();
      }
    });
  });
});
