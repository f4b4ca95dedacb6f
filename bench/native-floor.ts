import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { commandExists, fmtRate, printRows, startSink } from './bench-util.ts';
import { onCpus, type CorePlan } from './cpu-pinning.ts';

/** What a sender achieved at one asked rate (0: as fast as possible), by its own account. */
export interface SenderResult {
  pps: number;
  p99Us: number;
  maxUs: number;
}

/** Lateness at the sink, from the kernel's receive timestamps against an even schedule at the asked rate. */
export interface SinkResult {
  received: number;
  p50Us?: number;
  p99Us?: number;
  maxUs?: number;
}

export interface NativeTools {
  floor: string;
  sink: string;
  /** The relay's floor: a mirroring forwarder in C (native/udp-forwarder.c). */
  forwarder: string;
  /** A backend in C that ACKs every datagram (native/udp-ack-backend.c). */
  'ack-backend': string;
  /** A crowd of devices in C that sends at a fixed rate and reads the answers (native/udp-devices.c): a light load. */
  devices: string;
}

/** A native process that prints "ready" once it listens; `stop` ends it with SIGTERM and returns what it printed last. */
export interface NativeProcess {
  pid: number;
  stop(): Promise<string>;
}

export async function startNative(binary: string, args: readonly string[], what: string, cpus?: string): Promise<NativeProcess> {
  const child = spawn(...onCpus(binary, args, cpus), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('ready')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    pid: child.pid as number,
    stop: async () => {
      const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
      child.kill('SIGTERM');
      await closed;
      return out.trim().split('\n').pop() ?? '';
    },
  };
}

/** Builds the native floors and the kernel-timestamping sink into `dir`; undefined (and says why) without a C compiler. */
export function buildNative(dir: string): NativeTools | undefined {
  const compiler = ['cc', 'gcc', 'clang'].find(commandExists);
  if (compiler === undefined) {
    process.stdout.write('no C compiler on PATH (cc, gcc, clang): the native floor and the timestamping sink are not measured\n');
    return undefined;
  }
  const built: Partial<NativeTools> = {};
  for (const name of ['floor', 'sink', 'forwarder', 'ack-backend', 'devices'] as const) {
    const binary = join(dir, `udp-${name}`);
    const run = spawnSync(compiler, ['-O2', '-o', binary, join(import.meta.dirname, `native/udp-${name}.c`)], { encoding: 'utf8' });
    if (run.status !== 0) {
      process.stdout.write(`udp-${name}.c did not build (${compiler}: ${run.stderr.trim().split('\n')[0] ?? ''}): the native figures are not measured\n`);
      return undefined;
    }
    built[name] = binary;
  }
  return built as NativeTools;
}

/** Starts the C sink; the returned function stops it and gives its figures. */
export async function startNativeSink(tools: NativeTools, sink: { ip: string; port: number }, ratePps: number, maxPackets: number, cpus?: string): Promise<() => Promise<SinkResult>> {
  const child = await startNative(tools.sink, [sink.ip, String(sink.port), String(ratePps), String(maxPackets)], `the C sink on ${sink.ip}:${sink.port}`, cpus);
  return async () => JSON.parse((await child.stop()) || '{}') as SinkResult;
}

/**
 * Runs the floor into a sink (the Node one by default, as the replayer's rate runs); with `pin`, the floor alone on
 * the sender's CPU and the sink on the others, as the replayer is measured with --sender-cpu.
 */
export async function measureFloor(tools: NativeTools, sink: { ip: string; port: number }, ratePps: number, packets: number, devices: number, pin?: CorePlan): Promise<SenderResult & { atSink: SinkResult }> {
  const stop = ratePps > 0 ? await startNativeSink(tools, sink, ratePps, packets, pin?.others) : await nodeSink(sink);
  const args = [sink.ip, String(sink.port), String(ratePps), String(packets), String(devices), '127.31'];
  const run = spawnSync(...onCpus(tools.floor, args, pin === undefined ? undefined : String(pin.own)), { encoding: 'utf8' });
  const atSink = await stop();
  if (run.status !== 0) throw new Error(`udp-floor failed: ${run.stderr.trim()}`);
  return { ...(JSON.parse(run.stdout) as SenderResult), atSink };
}

/** The Node sink, which only counts what it receives, behind the same interface as the C sink. */
export async function nodeSink(sink: { ip: string; port: number }): Promise<() => Promise<SinkResult>> {
  const stop = await startSink(sink.ip, sink.port);
  return async () => ({ received: await stop() });
}

const us = (value: number | undefined): string => (value === undefined ? '-' : value.toFixed(1));

/** A sender measured against the floor: its name in the table, and what it achieved by its own account and at the sink. */
export interface FloorRow {
  asked: string;
  senders: { who: string; result: SenderResult & { atSink: SinkResult } }[];
  floor: SenderResult & { atSink: SinkResult };
}

/** The replayer beside the floor, by each one's own account and at the same sink: the ratios are what the replayer costs over C. */
export function printFloor(rows: readonly FloorRow[]): void {
  printRows(
    'native floor (C, one thread, same devices) against the replayer; "at sink": kernel receive timestamps in a C sink',
    ['asked', 'sender', 'achieved', 'own p99 µs', 'own max µs', 'at sink p99 µs', 'at sink max µs', 'received'],
    rows.flatMap(({ asked, senders, floor }) =>
      [...senders, { who: 'C floor', result: floor }].map(({ who, result }) => [asked, who, fmtRate(result.pps), us(result.p99Us), us(result.maxUs), us(result.atSink.p99Us), us(result.atSink.maxUs), result.atSink.received]),
    ),
  );
  for (const { asked, senders, floor } of rows) {
    for (const { who, result } of senders) {
      const atSink = result.atSink.p99Us !== undefined && floor.atSink.p99Us !== undefined && floor.atSink.p99Us > 0 ? `, at the sink ${(result.atSink.p99Us / floor.atSink.p99Us).toFixed(1)}x` : '';
      const own = floor.p99Us > 0 ? `p99 ${(result.p99Us / floor.p99Us).toFixed(1)}x the floor's by own account${atSink}` : `rate ${(result.pps / floor.pps).toFixed(2)}x the floor's`;
      process.stdout.write(`${asked}, ${who}: ${own}\n`);
    }
  }
}
