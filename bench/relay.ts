import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generic } from '../src/protocols/generic.ts';
import { replayCapture } from '../src/run/replay-run.ts';
import { spawnSync } from 'node:child_process';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import { createSocket } from 'node:dgram';
import { RelayProcess } from '../src/scenario/relay-process.ts';
import type { Store } from '../src/store/store.ts';
import { num } from '../src/store/store.ts';
import { fmtRate, printRows } from './bench-util.ts';
import { answerAtOnce, answerInTurn, cpuSeconds, niceAsReplayer, pinApart } from './cpu-pinning.ts';
import { withBenchCapture } from './generate-capture.ts';
import { fileURLToPath } from 'node:url';
import { buildNative, startNative, type NativeTools } from './native-floor.ts';
import { request } from 'undici';
import { kernelUdpSockets } from '../src/core/udp-socket-table.ts';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const RELAY_IP = '127.0.8.1';
/** The reference relay again, on Node's dgram (`--io dgram`), where the C datagram path is built for the first. */
const RELAY_DGRAM_IP = '127.0.8.6';
const PRIMARY_IP = '127.0.8.2';
const MIRROR_IP = '127.0.8.3';
const PORT = 20500;
const FLOOR_IP = '127.0.8.4';
const BARE_NODE_IP = '127.0.8.5';
const BARE_NODE_RELAY = fileURLToPath(new URL('./peers/node-mirror.mjs', import.meta.url));
const STEP_SECONDS = 3;
/** The C crowd's devices (native/udp-devices.c): as many as the bench capture's, at 127.41.1.1 and on. */
const CROWD_DEVICES = 1000;
const CROWD_NET = '127.41';
/**
 * Up to LATENCY_RATE the crowd's devices talk to the relay this long before each measured step, uncounted: the relay
 * has bound each device by then, as it has the devices that have long been talking to it. Every step brought 1,000
 * devices new to the relay (new ports), and binding them held the first 100-200 ms of each step at 2-25 ms (the
 * added p99 of a 3 s step 4-34 ms, the C forwarder's 1.7-5.2 ms; 2026-12-06): what a relay's restart costs, measured
 * on its own (newDevices), not what it adds to a packet.
 */
const WARMUP_SECONDS = 1;
const RATES = [1000, 10_000, 50_000] as const;

interface StepResult {
  achieved: number;
  sent: number;
  /** Packets the step sent in all, its warm-up included: what the relay's CPU over the step was spent on. */
  offered: number;
  loss: number;
  p50: number;
  p99: number;
  /** Datagrams the kernel dropped on arrival during the step, by whose sockets: where the loss happened. */
  dropped: DropsBySide;
}

interface DropsBySide {
  /** At the relay's listening socket: devices' packets. */
  relay: number;
  /** At the relay's upstream sockets: backends' answers (the mirror's, which it reads and drops, included). */
  relayUpstream: number;
  backends: number;
  devices: number | null;
}

/** A relay's figures at one offered rate, with the CPU it spent per mirrored packet. */
interface RateFigures extends StepResult {
  rate: number;
  usPerPacket: number;
  /** The primary reached directly in the step just before each of the relay's (the median over the rounds). */
  direct: { p50: number; p99: number };
  /** The relay's round trip less the direct one of the same round, at p50 and p99 (the median over the rounds). */
  added: { p50: number; p99: number };
}

/** The rate a relay's added latency is judged at; the bench's backends answer at once up to it (measureWithBackends). */
const LATENCY_RATE = 10_000;

/**
 * Rounds at the rate a relay's added latency is judged at (10k pps): each a step straight to the primary, then one
 * through the relay, back to back, and the median of three stands. Measured once each against a direct step taken
 * minutes before, the same relay's added p50 was 0.088 ms in one table and 0.152 ms in the next, the C forwarder's
 * 0.116 and 0.080 (2026-12-03): the machine had moved between them.
 */
const ROUNDS_AT = new Map<number, number>([[LATENCY_RATE, 3]]);

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

/**
 * How the backends are scheduled for a step at `rate` (measureWithBackends); a bench whose backends stay as they are
 * passes one that does nothing.
 */
type BackendScheduling = (rate: number) => void;

/** A step of a few seconds at `rate` to `target` (a relay, or the primary directly), offered by the bench's load. */
type Stepper = (target: string, rate: number) => Promise<StepResult>;

/**
 * The bench's load: where a C compiler built it, the C crowd of devices at every rate. The replayer and both backends
 * sharing one core offered only about 30k pps of round trips through a relay on the other (29-31k at 40-50k asked,
 * 2026-12-06), so above 10k the table measured the load, not the relay; and at 10k the replayer's devices were new
 * to the relay at every step (WARMUP_SECONDS). Up to LATENCY_RATE the crowd's devices are known to the relay before
 * the measured time, and it reads each answer as it comes. Without a compiler the replayer, as `parity replay` runs,
 * recording every send and answer and timing the round trip by the kernel's stamps.
 */
function loadFor(store: Store, native: NativeTools | undefined): Stepper {
  if (native === undefined) return (target, rate) => step(store, target, rate);
  return (target, rate) => Promise.resolve(crowdStep(native.devices, target, rate, STEP_SECONDS, rate <= LATENCY_RATE ? WARMUP_SECONDS : 0));
}

/** A relay's figures for 1,000 devices new to it at once (newDevices), with the CPU it spent per packet. */
interface BurstFigures extends StepResult {
  usPerPacket: number;
}

const BURST_SECONDS = 1;

/**
 * 1,000 devices new to the relay at once, at LATENCY_RATE for a second (each device's first packet in the first
 * 100 ms): what a relay's restart, or a NAT that gives every device a new port, costs the devices. Each run of the
 * crowd binds new ports, so every device is new to the relay.
 */
function newDevices(native: NativeTools, target: string, pid: number): BurstFigures {
  const cpuBefore = cpuSeconds(pid);
  const burst = crowdStep(native.devices, target, LATENCY_RATE, BURST_SECONDS, 0);
  return { ...burst, usPerPacket: ((cpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, burst.offered) };
}

/** Each offered rate through the relay at `target`, whose process is `pid`. */
async function measureRates(stepAt: Stepper, target: string, pid: number, scheduleFor: BackendScheduling): Promise<RateFigures[]> {
  const figures: RateFigures[] = [];
  for (const rate of RATES) {
    scheduleFor(rate);
    const rounds: { direct: StepResult; through: StepResult }[] = [];
    let cpu = 0;
    for (let round = 0; round < (ROUNDS_AT.get(rate) ?? 1); round++) {
      const direct = await stepAt(PRIMARY_IP, rate);
      const cpuBefore = cpuSeconds(pid);
      const through = await stepAt(target, rate);
      cpu += cpuSeconds(pid) - cpuBefore;
      rounds.push({ direct, through });
    }
    const sent = rounds.reduce((sum, r) => sum + r.through.sent, 0);
    const offered = rounds.reduce((sum, r) => sum + r.through.offered, 0);
    const lost = rounds.reduce((sum, r) => sum + r.through.loss * r.through.sent, 0);
    const dropped = rounds.reduce<DropsBySide>(
      (sum, { through: { dropped: d } }) => ({ relay: sum.relay + d.relay, relayUpstream: sum.relayUpstream + d.relayUpstream, backends: sum.backends + d.backends, devices: sum.devices === null || d.devices === null ? null : sum.devices + d.devices }),
      { relay: 0, relayUpstream: 0, backends: 0, devices: 0 },
    );
    figures.push({
      rate,
      sent,
      offered,
      achieved: median(rounds.map((r) => r.through.achieved)),
      loss: sent > 0 ? lost / sent : 0,
      dropped,
      p50: median(rounds.map((r) => r.through.p50)),
      p99: median(rounds.map((r) => r.through.p99)),
      usPerPacket: (cpu * 1e6) / Math.max(1, offered),
      direct: { p50: median(rounds.map((r) => r.direct.p50)), p99: median(rounds.map((r) => r.direct.p99)) },
      added: { p50: median(rounds.map((r) => r.through.p50 - r.direct.p50)), p99: median(rounds.map((r) => r.through.p99 - r.direct.p99)) },
    });
  }
  return figures;
}

/** A relay measured at each rate: `who` in the table, `name` in the sentences comparing it. */
interface RelayFigures {
  who: string;
  name: string;
  figures: readonly RateFigures[];
  /** 1,000 devices new to it at once; undefined where the crowd is not built. */
  newDevices: BurstFigures | undefined;
}

/**
 * The reference relay, the bare Node relay and, where built, the C forwarder at each rate, against the primary reached
 * directly; then what the reference relay's CPU per packet is made of: its own work (against the bare Node relay) and
 * Node's datagram path (the bare Node relay against C).
 */
function printRelayTable(relays: readonly RelayFigures[]): void {
  const row = (who: string, f: RateFigures): (string | number)[] => [
    `${fmtRate(f.rate)} pps`,
    who,
    fmtRate(f.achieved),
    `${(f.loss * 100).toFixed(2)}%`,
    `${f.dropped.relay} (${f.dropped.relayUpstream}) / ${f.dropped.backends} / ${f.dropped.devices ?? '-'}`,
    f.p50.toFixed(3),
    f.p99.toFixed(3),
    `${f.direct.p50.toFixed(3)} / ${f.direct.p99.toFixed(3)}`,
    f.added.p50.toFixed(3),
    f.added.p99.toFixed(3),
    f.usPerPacket.toFixed(1),
    fmtRate(1e6 / Math.max(f.usPerPacket, 1e-3)),
  ];
  printRows(
    'device round trip (ms) through a mirroring relay (2 backends); "added": against the primary reached directly in the step just before (at 10k pps the median of 3 such pairs)',
    ['offered', 'relay', 'achieved', 'loss', 'dropped at: relay (upstream) / backends / devices', 'p50', 'p99', 'direct p50 / p99', 'added p50', 'added p99', 'CPU µs/packet', 'packets per core'],
    RATES.flatMap((_, i) => relays.flatMap(({ who, figures }) => (figures[i] === undefined ? [] : [row(who, figures[i] as RateFigures)]))),
  );
  // Each relay against those after it: the reference relay's own work, then Node's datagram path against C.
  for (const [k, relay] of relays.entries()) {
    for (const [i, f] of relay.figures.entries()) {
      const against = relays.slice(k + 1).flatMap(({ name, figures }) => {
        const n = figures[i];
        return n === undefined ? [] : [`${(f.usPerPacket / Math.max(n.usPerPacket, 1e-3)).toFixed(1)}x the ${name}'s (p50 ${(f.p50 / Math.max(n.p50, 1e-6)).toFixed(1)}x, p99 ${(f.p99 / Math.max(n.p99, 1e-6)).toFixed(1)}x)`];
      });
      if (against.length > 0) process.stdout.write(`${fmtRate(f.rate)} pps: the ${relay.name}'s CPU per packet is ${against.join(', ')}\n`);
    }
  }
}

/** Each relay's figures for 1,000 devices new to it at once, beside its steady p99 at the same rate. */
function printNewDevices(relays: readonly RelayFigures[]): void {
  for (const { name, figures, newDevices: burst } of relays) {
    if (burst === undefined) continue;
    const steady = figures.find((f) => f.rate === LATENCY_RATE);
    process.stdout.write(
      `${CROWD_DEVICES.toLocaleString('en-US')} devices new to the ${name} at once (${fmtRate(LATENCY_RATE)} pps for ${BURST_SECONDS} s): round trip p50 ${burst.p50.toFixed(3)} ms, p99 ${burst.p99.toFixed(3)} ms` +
        `${steady === undefined ? '' : ` (${steady.p99.toFixed(3)} ms with devices it knew)`}, loss ${(burst.loss * 100).toFixed(2)}%, ${burst.usPerPacket.toFixed(1)} µs CPU a packet\n`,
    );
  }
}

/**
 * `npm run bench -- relay`: device round trip and loss through the reference relay (mirroring to two backends, each
 * its own process) at fixed offered rates, on its C datagram path where that is built and on Node's dgram, against the same primary backend reached directly, against the least a
 * mirroring relay on Node's `dgram` does (bench/peers/node-mirror.mjs) and against a mirroring forwarder in C (the
 * floor); then rising rates until each loses more than 0.1%. All of it twice where a C compiler
 * is present: with `parity backend` processes as the backends, then with backends in C, which leave the load side
 * enough of its core that the relay, not its backends, sets where loss begins.
 */
export async function benchRelay(): Promise<void> {
  await withBenchCapture('relay', { packets: 300_000, port: PORT }, (store, dir) => relayRows(store, dir));
}

async function relayRows(store: Store, dir: string): Promise<void> {
  const relays: ReferenceRelay[] = [];
  try {
    const native = buildNative(dir);
    relays.push(await startReference(dir, RELAY_IP, 'auto'));
    // With the C datagram path built, the same relay on Node's dgram too: what that path is worth.
    if (relays[0]?.io === 'native') relays.push(await startReference(dir, RELAY_DGRAM_IP, 'dgram'));
    if (relays.length === 1 && relays[0] !== undefined) relays[0].who = 'reference relay';
    const bench: RelayBench = { store, relays, native };
    const nodeBackends = [PRIMARY_IP, MIRROR_IP].map((ip, i) =>
      spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'generic', '--listen', `${ip}:${PORT}`, '--role', i === 0 ? 'primary' : 'mirror'], { stdio: 'ignore' }),
    );
    try {
      for (const ip of [PRIMARY_IP, MIRROR_IP]) await answering(ip, PORT);
      await measureWithBackends(bench, 'backends: two `parity backend` processes', nodeBackends.map((b) => b.pid as number), false);
    } finally {
      for (const backend of nodeBackends) await stopTracked(backend);
    }
    if (native === undefined) return;
    const cBackends = [await startNative(native['ack-backend'], [PRIMARY_IP, String(PORT)], 'the C primary'), await startNative(native['ack-backend'], [MIRROR_IP, String(PORT)], 'the C mirror')];
    try {
      await measureWithBackends(bench, 'backends: two C ACK backends (native/udp-ack-backend.c)', cBackends.map((b) => b.pid), true);
    } finally {
      for (const backend of cBackends) await backend.stop();
    }
  } finally {
    for (const { relay } of relays) await relay.stop();
  }
}

/** A reference relay under test: its process, its address, its datagram path and its name in the tables. */
interface ReferenceRelay {
  relay: RelayProcess;
  ip: string;
  io: string;
  who: string;
}

async function startReference(dir: string, ip: string, io: 'auto' | 'dgram'): Promise<ReferenceRelay> {
  const relayDir = join(dir, `relay-${io}`);
  mkdirSync(relayDir);
  const relay = await RelayProcess.start(relayDir, {
    address: ip,
    responseTimeoutMs: 2000,
    routes: { globals: { mirror: true, mirror_ip: MIRROR_IP }, routes: [{ port: PORT, target: PRIMARY_IP }] },
    io,
  });
  const health = (await (await request(`${relay.debugUrl}/debug/health`)).body.json()) as { io: string };
  return { relay, ip, io: health.io, who: `reference relay (${health.io === 'native' ? 'C datagram path' : "Node's dgram"})` };
}

/** Waits until a backend answers a datagram (a process just started may not listen yet), at most 10 s. */
async function answering(ip: string, port: number): Promise<void> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  try {
    const deadline = Date.now() + 10_000;
    const answered = new Promise<void>((resolve) => socket.once('message', () => resolve()));
    let done = false;
    void answered.then(() => (done = true));
    while (!done) {
      if (Date.now() > deadline) throw new Error(`the backend at ${ip}:${port} did not answer within 10 s`);
      socket.send('probe', port, ip);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    socket.close();
  }
}

interface RelayBench {
  store: Store;
  relays: readonly ReferenceRelay[];
  native: NativeTools | undefined;
}

/**
 * The reference relay, the bare Node relay and the C forwarder at each rate, then their loss onsets, with the backends
 * whose pids are given; `realTime`: the backends never spin (the C ones), so they may run as real-time threads.
 */
async function measureWithBackends({ store, relays: references, native }: RelayBench, label: string, backendPids: readonly number[], realTime: boolean): Promise<void> {
  process.stdout.write(`\n${label}\n`);
  const load = [process.pid, ...backendPids];
  const pinned = pinApart(references[0]?.relay.pid as number, load);
  // The backends stand for machines of their own, but share a core with the load, which runs at nice -10: an ordinary
  // backend woken by the relay's packet waited behind it (behind the replayer, whose sending thread spins between
  // sends from 10k pps, the primary read the reference relay's copy 0.24-0.39 ms after it was sent at p50, the C
  // forwarder's 0.07-0.08 ms; 2026-12-06), and the table counted that as the relay's.
  // As real-time threads they answer at once; a backend that is a Node process (garbage collection, a recording
  // thread) is raised to the replayer's nice -10 instead, so that at 50k pps it is not starved (its socket overflowed).
  // Above 10k pps the question is how much a relay holds, not how soon it answers, and real-time backends woken for
  // every packet leave the load too little of its core: the replayer offered 22-41k pps at 50k asked with them, 29-31k
  // with them at nice -10 (2026-12-06), and the crowd of devices in C that offers those rates (loadFor) needs the core
  // too. From 20k pps they run at nice -10, answering together what arrived while they waited their turn, as a busy
  // backend's receive path batches.
  let scheduleFor: BackendScheduling = () => undefined;
  if (realTime && answerAtOnce(backendPids)) {
    process.stdout.write(
      `the backends run as real-time threads (SCHED_FIFO 1) up to ${fmtRate(LATENCY_RATE)} pps: they answer when woken, as backends on machines of their own would, not behind the load; above it at nice -10, so that the load has the core to offer the rate\n`,
    );
    let atOnce = true;
    scheduleFor = (rate) => {
      const wanted = rate <= LATENCY_RATE;
      if (wanted === atOnce) return;
      atOnce = wanted;
      if (!(wanted ? answerAtOnce(backendPids) : answerInTurn(backendPids))) throw new Error(`the backends' scheduling could not be changed (chrt) for the ${fmtRate(rate)} pps step`);
    };
  } else {
    const raised = backendPids.filter(niceAsReplayer);
    if (raised.length > 0) process.stdout.write('the backends run at nice -10, as the replayer\'s threads do\n');
  }
  process.stdout.write(pinned ? 'the relay under test runs on a core of its own; the load and both backends share the others\n' : 'no taskset (or one core): the relay shares the cores with the load\n');
  const stepAt = loadFor(store, native);
  process.stdout.write(
    native === undefined
      ? 'the load at every rate: the replayer (its devices new to the relay at every step)\n'
      : `the load: a crowd of ${CROWD_DEVICES.toLocaleString('en-US')} devices in C (native/udp-devices.c), which sends to deadlines without recording and leaves its core to the backends; up to ${fmtRate(LATENCY_RATE)} pps its devices talk to the relay for ${WARMUP_SECONDS} s before each measured ${STEP_SECONDS} s (devices the relay knows) and it reads each answer as it comes\n`,
  );
  const peers = peerRelays(native);
  const relays: RelayFigures[] = [];
  const measure = async (ip: string, pid: number): Promise<Pick<RelayFigures, 'figures' | 'newDevices'>> => {
    const figures = await measureRates(stepAt, ip, pid, scheduleFor);
    scheduleFor(LATENCY_RATE);
    return { figures, newDevices: native === undefined ? undefined : newDevices(native, ip, pid) };
  };
  for (const { relay, ip, who } of references) {
    pinApart(relay.pid as number, load);
    relays.push({ who, name: who, ...(await measure(ip, relay.pid as number)) });
  }
  for (const peer of peers) relays.push({ who: peer.who, name: peer.name, ...(await withPeer(peer, load, (pid) => measure(peer.ip, pid))) });
  printRelayTable(relays);
  printNewDevices(relays);
  for (const { relay, ip, who } of references) {
    pinApart(relay.pid as number, load);
    process.stdout.write(`rate at which the ${who} starts losing (> 0.1%): ${await lossOnset(stepAt, ip, scheduleFor)}\n`);
  }
  for (const peer of peers) process.stdout.write(`rate at which the ${peer.name} starts losing (> 0.1%): ${await withPeer(peer, load, () => lossOnset(stepAt, peer.ip, scheduleFor))}\n`);
  for (const { relay, who } of references) {
    const health = (await (await request(`${relay.debugUrl}/debug/health`)).body.json()) as { upstreamSockets: number; rssBytes: number };
    process.stdout.write(`${who} resources (one upstream binding per device, idle ones close after 30 s): ${health.upstreamSockets} sockets, RSS ${(health.rssBytes / 1e6).toFixed(0)} MB\n`);
  }
}

/** A relay the bench compares the reference relay with, started for each measurement and stopped after it. */
interface PeerRelay extends Pick<RelayFigures, 'who' | 'name'> {
  ip: string;
  command: string;
  args: string[];
}

/**
 * The bare Node relay (bench/peers/node-mirror.mjs: Node's datagram path with none of the reference relay's own work)
 * and, where built, the C forwarder (the floor), each on an address of its own.
 */
function peerRelays(native: NativeTools | undefined): PeerRelay[] {
  const upstream = [String(PORT), PRIMARY_IP, MIRROR_IP];
  const bare: PeerRelay = { who: 'bare Node relay', name: 'bare Node relay', ip: BARE_NODE_IP, command: process.execPath, args: [BARE_NODE_RELAY, BARE_NODE_IP, ...upstream] };
  if (native === undefined) return [bare];
  return [bare, { who: 'C forwarder (floor)', name: 'C forwarder', ip: FLOOR_IP, command: native.forwarder, args: [FLOOR_IP, ...upstream] }];
}

/** Runs `work` with `peer` up on its address, on a core of its own. */
async function withPeer<T>(peer: PeerRelay, load: readonly number[], work: (pid: number) => Promise<T>): Promise<T> {
  const running = await startNative(peer.command, peer.args, `the ${peer.name} on ${peer.ip}:${PORT}`);
  try {
    pinApart(running.pid, load);
    return await work(running.pid);
  } finally {
    await running.stop();
  }
}

/** Rising rates through a relay until it loses more than 0.1%, or the load cannot offer more. */
async function lossOnset(stepAt: Stepper, target: string, scheduleFor: BackendScheduling): Promise<string> {
  for (const rate of [20_000, 30_000, 40_000, 50_000, 60_000, 80_000, 100_000]) {
    scheduleFor(rate);
    const through = await stepAt(target, rate);
    process.stdout.write(`offered ${fmtRate(rate)} pps: achieved ${fmtRate(through.achieved)}, loss ${(through.loss * 100).toFixed(2)}% (dropped at the sockets of: ${formatDrops(through.dropped)})\n`);
    // Whose sockets dropped them goes with it: with `parity backend` processes, the backends are the first to give.
    if (through.loss > 0.001) return `${fmtRate(rate)} pps offered (${fmtRate(through.achieved)} achieved; dropped at the sockets of: ${formatDrops(through.dropped)})`;
    if (through.achieved < rate * 0.9) return `none up to ${fmtRate(through.achieved)} pps, the most the load offered`;
  }
  return "none up to the load's limit";
}

let runs = 0;

const BACKEND_ENDPOINTS = new Set([PRIMARY_IP, MIRROR_IP].map((ip) => `${ip}:${PORT}`));

/**
 * Each socket's drop count (`local|remote`), and whose it is: the relay's (its listening socket on `target`, and
 * the upstream sockets it connects to the backends) or a backend's. Undefined off Linux.
 */
function dropCounts(target: string): Map<string, { side: 'relay' | 'relayUpstream' | 'backends'; drops: number }> | undefined {
  const table = kernelUdpSockets();
  if (table === undefined) return undefined;
  const counts = new Map<string, { side: 'relay' | 'relayUpstream' | 'backends'; drops: number }>();
  for (const socket of table) {
    const side = BACKEND_ENDPOINTS.has(socket.local) ? 'backends' : socket.local === `${target}:${PORT}` ? 'relay' : socket.remote !== null && BACKEND_ENDPOINTS.has(socket.remote) ? 'relayUpstream' : undefined;
    if (side !== undefined) counts.set(`${socket.local}|${socket.remote ?? ''}`, { side, drops: socket.drops });
  }
  return counts;
}

/** What each side dropped between two counts (a socket made in between counts from zero). */
function dropsBetween(before: ReturnType<typeof dropCounts>, after: ReturnType<typeof dropCounts>, devices: number | null): DropsBySide {
  const dropped: DropsBySide = { relay: 0, relayUpstream: 0, backends: 0, devices };
  if (before === undefined || after === undefined) return dropped;
  for (const [key, { side, drops }] of after) dropped[side] += Math.max(0, drops - (before.get(key)?.drops ?? 0));
  return dropped;
}

/** "relay 0 (its upstream 12), backends 1,234, devices 0": where a step's datagrams were dropped. */
export function formatDrops(d: DropsBySide): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  return `relay ${n(d.relay)} (its upstream ${n(d.relayUpstream)}), backends ${n(d.backends)}, devices ${d.devices === null ? '-' : n(d.devices)}`;
}

/** What the C crowd of devices prints when it is done (native/udp-devices.c). */
interface CrowdResult {
  /** In the measured time; warmupSent before it. */
  sent: number;
  warmupSent: number;
  errors: number;
  answered: number;
  devicesDropped: number;
  achievedPps: number;
  p50Us: number;
  p99Us: number;
}

/**
 * The C crowd of devices sends at `rate` for `seconds` to `target`, after `warmupSeconds` of the same uncounted, and
 * reads the answers: loss is what was not answered within a second of the last send, the round trip is timed from
 * each send to the answer's read (not by the kernel's stamps, so a late read counts; up to 20k pps each answer is read
 * as it comes, above it once per run of sends), and the devices' own drops come from the kernel (SO_RXQ_OVFL). The
 * sockets' drop counts are taken over the whole run, its warm-up included.
 */
function crowdStep(binary: string, target: string, rate: number, seconds: number, warmupSeconds: number): StepResult {
  const dropsBefore = dropCounts(target);
  // At nice -10 as the replayer's threads run, so that the backends do not starve it (`nice` runs it as started where
  // raising it is refused); waited for as the floor is (measureFloor): this process has nothing else to do meanwhile.
  const args = ['-n', '-10', binary, target, String(PORT), String(rate), String(seconds), String(CROWD_DEVICES), CROWD_NET, String(warmupSeconds)];
  const run = spawnSync('nice', args, { encoding: 'utf8', timeout: (warmupSeconds + seconds + 15) * 1000, killSignal: 'SIGKILL' });
  if (run.status !== 0) throw new Error(`udp-devices to ${target}:${PORT} at ${rate} pps failed (${run.error?.message ?? `exit ${run.status ?? run.signal}`}): ${run.stderr.trim() || 'no output'}`);
  const r = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as CrowdResult;
  if (r.errors > 0) process.stdout.write(`udp-devices: ${r.errors} of ${r.sent} sends to ${target} failed\n`);
  return {
    achieved: r.achievedPps,
    sent: r.sent,
    offered: r.sent + r.warmupSent,
    loss: r.sent > 0 ? 1 - Math.min(r.sent, r.answered) / r.sent : 0,
    p50: r.p50Us / 1e3,
    p99: r.p99Us / 1e3,
    dropped: dropsBetween(dropsBefore, dropCounts(target), r.devicesDropped),
  };
}

/** Replays at `rate` for a few seconds (`seconds`) to `target` and measures the devices' round trip and loss. */
export async function step(store: Store, target: string, rate: number, seconds = STEP_SECONDS): Promise<StepResult> {
  const runName = `relay-bench-${++runs}`;
  const dropsBefore = dropCounts(target);
  const result = await replayCapture({
    store,
    capture: 'bench',
    relayHost: target,
    portMap: new Map(),
    plan: { pace: { kind: 'rate', ratePps: rate }, loops: 1, durationMs: seconds * 1000, sample: 1, seed: 1 },
    protocol: generic,
    devices: '127.31.0.0/16',
    ackTimeoutMs: 1000,
    runName,
  });
  const dropped = dropsBetween(dropsBefore, dropCounts(target), result.stats.receiveDrops);
  const [row] = await store.query(
    `WITH s AS (SELECT * FROM sends WHERE run_id = $run_id),
          o AS (SELECT * FROM observations WHERE run_id = $run_id AND leg = 'relay>device')
     SELECT count(*) AS sent,
            (SELECT count(*) FROM o) AS replies,
            quantile_cont((o.ts_ns - s.actual_ns) / 1e6, 0.5) AS p50,
            quantile_cont((o.ts_ns - s.actual_ns) / 1e6, 0.99) AS p99
     FROM s ASOF LEFT JOIN o ON o.dst_ip = s.local_ip AND o.dst_port = s.local_port AND o.ts_ns >= s.actual_ns`,
    { run_id: result.runId },
  );
  const sent = num(row?.sent);
  return { achieved: result.stats.achievedRatePps, sent, offered: sent, loss: sent > 0 ? 1 - Math.min(sent, num(row?.replies)) / sent : 0, p50: num(row?.p50), p99: num(row?.p99), dropped };
}
