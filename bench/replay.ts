import { generic } from '../src/protocols/generic.ts';
import type { Pace } from '../src/replay/replay-plan.ts';
import type { SenderStall } from '../src/replay/send-thread.ts';
import type { SenderCpuChoice } from '../src/replay/replay-types.ts';
import { AUTO_SENDER_CPU_FROM_PPS } from '../src/replay/sender-cpu.ts';
import { replayCapture } from '../src/run/replay-run.ts';
import type { Store } from '../src/store/store.ts';
import { commandExists, fmtRate, printRows, timeCommand } from './bench-util.ts';
import { damonThreads, stolenMs } from './machine-stalls.ts';
import { withBenchCapture } from './generate-capture.ts';
import { corePlan } from './cpu-pinning.ts';
import { buildNative, measureFloor, nodeSink, printFloor, startNative, startNativeSink, type FloorRow, type NativeTools, type SinkResult } from './native-floor.ts';
import { loadUdpIo } from '../src/core/udp-io/udp-io.ts';

const SINK_IP = '127.0.9.1';
const SINK_PORT = 20500;
const PACKETS = 400_000;

/**
^ * `npm run bench -- replay`: the replayer into a UDP sink in another process (1,000 devices, each from its own
 * address): lateness at fixed rates, the highest rate held with p99 lateness under 1 ms, full speed, the CPU the
 * pacing costs; against the C floor into the C sink; into a C backend that ACKs every packet, as a relay's devices are
 * answered; and in the same run tcpreplay on the same capture (raw frames on lo, no sockets, no ACKs).
 */
export async function benchReplay(): Promise<void> {
  await withBenchCapture('replay', { packets: PACKETS, port: SINK_PORT }, (store, dir, file) => replayRows(store, dir, file));
}

async function replayRows(store: Store, dir: string, file: string): Promise<void> {
  const rows: (string | number)[][] = [];
  let highestHeld = 0;
  for (const rate of [10_000, 25_000, 50_000, 75_000, 100_000, 150_000, 200_000]) {
    const result = await measure(store, { kind: 'rate', ratePps: rate }, Math.min(PACKETS, Math.max(100_000, rate * 3)), undefined, 'auto');
    rows.push([`${fmtRate(rate)} pps`, ...result.row]);
    if (result.achieved >= rate * 0.99 && result.p99Us <= 1000) highestHeld = rate;
  }
  const max = await measure(store, { kind: 'max' }, PACKETS, undefined, 'auto');
  rows.push(['max (as fast as possible)', ...max.row]);
  printRows(
    `replay into a UDP sink (1,000 devices, one socket each), as parity replay runs by default (--sender-cpu auto: the sending thread alone on the last CPU from ${AUTO_SENDER_CPU_FROM_PPS / 1000}k pps planned, where there are two); lateness = actual - scheduled send time; the collector's stops of the sending thread, other threads on its CPU, batches it got late from the main thread, and the hypervisor's steal from the machine while it ran`,
    ['asked', 'achieved', 'received', 'p50 µs', 'p99 µs', 'max µs', 'CPU of a core', 'collector >= 1 ms', 'off its CPU', 'late batches', 'steal ms'],
    rows,
  );
  process.stdout.write(`highest rate held with p99 lateness <= 1 ms and >= 99% of the asked rate: ${fmtRate(highestHeld)} pps\n`);
  const native = buildNative(dir);
  if (native !== undefined) {
    const compared: FloorRow[] = [];
    // The devices on each datagram path there is (the C one, where built, is the default; Node's dgram).
    const paths = loadUdpIo() === undefined ? (['dgram'] as const) : (['native', 'dgram'] as const);
    const who = (path: string): string => (paths.length === 1 ? 'replayer' : `replayer (${path === 'native' ? 'C datagram path' : 'dgram'})`);
    // Each sender as it runs by default (sharing every CPU), then, where the machine allows, alone on a CPU of its own
    // (the replayer with --sender-cpu, the C floor under taskset) with the sink on the others.
    const pinning = corePlan();
    if (pinning === undefined) process.stdout.write('one CPU or no taskset: the senders are measured unpinned only\n');
    for (const pin of pinning === undefined ? [undefined] : [undefined, pinning]) {
      for (const rate of [10_000, 50_000]) {
        const sink = { ip: SINK_IP, port: SINK_PORT };
        const senders: FloorRow['senders'] = [];
        for (const path of paths) {
          const ours = await withDeviceIo(path, () => measure(store, { kind: 'rate', ratePps: rate }, 100_000, () => startNativeSink(native, sink, rate, 100_000, pin?.others), pin?.own));
          senders.push({ who: who(path), result: { pps: ours.achieved, p99Us: ours.p99Us, maxUs: ours.maxUs, atSink: ours.atSink } });
        }
        const floor = await measureFloor(native, sink, rate, 100_000, 1000, pin);
        compared.push({ asked: `${fmtRate(rate)} pps${pin === undefined ? '' : `, sender alone on CPU ${pin.own}`}`, senders, floor });
      }
    }
    const floorMax = await measureFloor(native, { ip: SINK_IP, port: SINK_PORT }, 0, PACKETS, 1000);
    const maxSenders: FloorRow['senders'] = [{ who: who(paths[0]), result: { pps: max.achieved, p99Us: 0, maxUs: 0, atSink: max.atSink } }];
    if (paths.length > 1) {
      const dgramMax = await withDeviceIo('dgram', () => measure(store, { kind: 'max' }, PACKETS));
      maxSenders.push({ who: who('dgram'), result: { pps: dgramMax.achieved, p99Us: 0, maxUs: 0, atSink: dgramMax.atSink } });
    }
    compared.push({ asked: 'max', senders: maxSenders, floor: floorMax });
    printFloor(compared);
    await answeredRows(store, native, pinning);
    for (const damon of damonThreads()) {
      process.stdout.write(`the kernel's memory monitor runs here: ${damon}; where it may run on the sender's CPU it takes that CPU 1.5-2.6 ms at a time (as root, \`taskset -p <mask> <pid>\` keeps it off)\n`);
    }
  }
  if (commandExists('tcpreplay')) {
    const tcp: (string | number)[][] = [];
    for (const args of [['--pps=10000'], ['--pps=50000'], ['--topspeed']]) {
      const seconds = timeCommand('tcpreplay', ['--intf1=lo', ...args, file]);
      if (seconds === undefined) {
        tcp.push([`tcpreplay ${args.join(' ')}`, 'failed (needs root for raw sockets)', '-']);
        continue;
      }
      tcp.push([`tcpreplay ${args.join(' ')}`, fmtRate(PACKETS / seconds), `${(max.achieved / (PACKETS / seconds)).toFixed(2)}x`]);
    }
    printRows('tcpreplay on lo, same capture (raw frames: the kernel drops them as martians; it cannot drive a relay)', ['run', 'packets/s', 'ours at max / this'], tcp);
  } else {
    process.stdout.write('tcpreplay not on PATH: its baseline is not measured\n');
  }
}

/**
 * Through a relay every request is answered, and the sending thread also reads the devices' ACKs, one socket each:
 * the replayer into a C backend that ACKs every datagram (native/udp-ack-backend.c), unpinned and, where the machine
 * allows, alone on a CPU with the backend on the others. The floor has no such row: it reads nothing.
 */
async function answeredRows(store: Store, native: NativeTools, pinning: ReturnType<typeof corePlan>): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const pin of pinning === undefined ? [undefined] : [undefined, pinning]) {
    for (const rate of [10_000, 50_000]) {
      const backend = (): Promise<() => Promise<SinkResult>> => ackBackend(native, pin?.others);
      const measured = await measure(store, { kind: 'rate', ratePps: rate }, 100_000, backend, pin?.own, ACK_WAIT_MS);
      rows.push([`${fmtRate(rate)} pps${pin === undefined ? '' : `, sender alone on CPU ${pin.own}`}`, fmtRate(measured.achieved), `${((100 * measured.acks) / measured.sent).toFixed(2)}%`, measured.p99Us, measured.maxUs, measured.collector, measured.offCpu]);
    }
  }
  printRows(
    "replay into a C backend that ACKs every packet (the sending thread also reads 1,000 sockets' ACKs, as through a relay); the sending thread's lateness, collections and time off its CPU",
    ['asked', 'achieved', 'ACKs back', 'p99 µs', 'max µs', 'collector >= 1 ms', 'off its CPU'],
    rows,
  );
}

/** How long a replay into the ACK backend waits for the ACKs still in flight after its last send. */
const ACK_WAIT_MS = 1000;

/** The C ACK backend on the sink's address, as a sink: its figures are what it received. */
async function ackBackend(native: NativeTools, cpus: string | undefined): Promise<() => Promise<SinkResult>> {
  const child = await startNative(native['ack-backend'], [SINK_IP, String(SINK_PORT)], `the C ACK backend on ${SINK_IP}:${SINK_PORT}`, cpus);
  return async () => JSON.parse((await child.stop()) || '{}') as SinkResult;
}

let runNumber = 0;

type Measured = { row: (string | number)[]; achieved: number; sent: number; acks: number; p50Us: number; p99Us: number; maxUs: number; atSink: SinkResult; waits: string | undefined; senderCpuSec: number | undefined; collector: string; offCpu: string };

/** One replay into a sink: the Node sink (a count) unless another is given (the C sink: lateness at arrival too). */
async function measure(store: Store, pace: Pace, packets: number, sink?: () => Promise<() => Promise<SinkResult>>, senderCpu?: SenderCpuChoice, ackTimeoutMs = 0): Promise<Measured> {
  const stopSink = sink === undefined ? await nodeSink({ ip: SINK_IP, port: SINK_PORT }) : await sink();
  const cpuBefore = process.cpuUsage();
  const stolenBefore = stolenMs();
  const started = process.hrtime.bigint();
  const abort = new AbortController();
  const result = await replayCapture({
    store,
    capture: 'bench',
    relayHost: SINK_IP,
    portMap: new Map(),
    plan: { pace, loops: 1, durationMs: pace.kind === 'rate' ? (packets / pace.ratePps) * 1000 : undefined, sample: 1, seed: 1 },
    protocol: generic,
    devices: '127.30.0.0/16',
    ackTimeoutMs,
    runName: `bench-${++runNumber}`,
    signal: abort.signal,
    senderCpu,
  });
  const wallUs = Number(process.hrtime.bigint() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const stolen = stolenMs() - stolenBefore;
  const gc = result.stats.senderCollections;
  const collector = gc === null ? '-' : gc.count === 0 ? '0' : `${gc.count} (longest ${gc.maxMs.toFixed(1)} ms)`;
  const stall = (s: SenderStall | null | undefined): string => (s === null || s === undefined ? '-' : s.times === 0 ? '0' : `${s.times} (${s.ms.toFixed(1)} ms)`);
  const atSink = await stopSink();
  const received = atSink.received;
  const { lateness, achievedRatePps, sent } = result.stats;
  return {
    atSink,
    achieved: achievedRatePps,
    sent,
    acks: result.stats.acks,
    collector,
    offCpu: stall(result.stats.senderWaitedForCpu),
    p50Us: lateness.p50Us,
    p99Us: lateness.p99Us,
    waits: result.stats.senderWaits ?? undefined,
    senderCpuSec: result.stats.senderCpuSec ?? undefined,
    maxUs: lateness.maxUs,
    row: [fmtRate(achievedRatePps), `${((100 * received) / sent).toFixed(2)}%`, lateness.p50Us, lateness.p99Us, lateness.maxUs, `${((100 * (cpu.user + cpu.system)) / wallUs).toFixed(0)}%`, collector, stall(result.stats.senderWaitedForCpu), stall(result.stats.senderLateBatches), stolen.toFixed(0)],
  };
}

/** Runs `work` with the replayer's devices on the given datagram path (PARITY_UDP_IO), then as before. */
function withDeviceIo<T>(path: 'native' | 'dgram', work: () => Promise<T>): Promise<T> {
  return withEnv('PARITY_UDP_IO', path, work);
}

/** Runs `work` with the environment variable `name` set to `value`, then as before. */
async function withEnv<T>(name: string, value: string, work: () => Promise<T>): Promise<T> {
  const before = process.env[name];
  process.env[name] = value;
  try {
    return await work();
  } finally {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  }
}

/**
 * `npm run bench -- replay-waits`: the sending thread parked between sends (the default where the addon is built)
 * against spinning (PARITY_SENDER_WAIT=spin), alternating, 10 s at each rate into the C sink: lateness, and the share
 * of a core the thread held while it sent (at 10k pps, 100 µs between sends, it does not park: both rows spin).
 */
export async function benchReplayWaits(): Promise<void> {
  await withBenchCapture('waits', { packets: 100_000, port: SINK_PORT }, async (store, dir) => {
    const native = buildNative(dir);
    if (native === undefined || loadUdpIo() === undefined) {
      process.stdout.write('no C compiler, or the C datagram path is not built: the sending thread can only spin, nothing to compare\n');
      return;
    }
    await compareWaits(store, native);
  });
}

async function compareWaits(store: Store, native: NativeTools): Promise<void> {
  const rows: (string | number)[][] = [];
  for (const rate of [1000, 2000, 10_000]) {
    for (const wait of ['spin', 'park'] as const) {
      const packets = rate * 10;
      const sink = (): Promise<() => Promise<SinkResult>> => startNativeSink(native, { ip: SINK_IP, port: SINK_PORT }, rate, packets);
      const measured = await withEnv('PARITY_SENDER_WAIT', wait === 'park' ? 'auto' : 'spin', () => measure(store, { kind: 'rate', ratePps: rate }, packets, sink));
      const share = measured.senderCpuSec === undefined ? '-' : `${((100 * measured.senderCpuSec) / (packets / rate)).toFixed(0)}%`;
      rows.push([`${fmtRate(rate)} pps`, measured.waits ?? '-', measured.p50Us, measured.p99Us, measured.maxUs, measured.atSink.p99Us ?? '-', share]);
    }
  }
  printRows(
    'how the sending thread waits between sends: parked in the kernel (as a real-time thread where allowed) or spinning; into the C sink, 10 s a rate',
    ['asked', 'waits', 'p50 µs', 'p99 µs', 'max µs', 'p99 at the sink µs', 'sending thread, share of a core'],
    rows,
  );
}

/**
 * `npm run bench -- replay-placement`: the sending thread sharing every CPU (`--sender-cpu none`) against alone on the
 * last one (as `auto` places it from AUTO_SENDER_CPU_FROM_PPS), alternating, 10 s at each of three low rates into the C
 * sink: what `auto`'s threshold rests on. The p99 is the same either way at these rates; the max is what differs.
 */
export async function benchReplayPlacement(): Promise<void> {
  await withBenchCapture('placement', { packets: 100_000, port: SINK_PORT }, async (store, dir) => {
    const native = buildNative(dir);
    const pinning = corePlan();
    if (native === undefined || pinning === undefined) {
      process.stdout.write('no C compiler, one CPU or no taskset: nothing to compare\n');
      return;
    }
    const rows: (string | number)[][] = [];
    const maxima = new Map<string, number[]>();
    for (let round = 1; round <= 2; round++) {
      for (const rate of [2000, 5000, 10_000]) {
        for (const cpu of ['none', pinning.own] as const) {
          const placement = cpu === 'none' ? 'sharing every CPU' : `alone on CPU ${cpu}`;
          const packets = rate * 10;
          const sink = (): Promise<() => Promise<SinkResult>> => startNativeSink(native, { ip: SINK_IP, port: SINK_PORT }, rate, packets);
          const measured = await measure(store, { kind: 'rate', ratePps: rate }, packets, sink, cpu);
          rows.push([`${fmtRate(rate)} pps`, placement, round, measured.p99Us, measured.maxUs, measured.atSink.maxUs ?? '-', measured.offCpu]);
          const key = `${fmtRate(rate)} pps ${placement}`;
          maxima.set(key, [...(maxima.get(key) ?? []), measured.maxUs]);
        }
      }
    }
    printRows(
      `where the sending thread runs at low rates (auto: alone from ${AUTO_SENDER_CPU_FROM_PPS / 1000}k pps planned); into the C sink, 10 s a run, alternating`,
      ['asked', 'sending thread', 'round', 'p99 µs', 'max µs', 'max at the sink µs', 'off its CPU'],
      rows,
    );
    for (const [key, values] of maxima) process.stdout.write(`${key}: max ${values.map((v) => `${(v / 1000).toFixed(2)} ms`).join(', ')}\n`);
  });
}
