import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import { RelayProcess } from '../src/scenario/relay-process.ts';
import type { Store } from '../src/store/store.ts';
import { fmtRate, printRows } from './bench-util.ts';
import { withBenchCapture } from './generate-capture.ts';
import { cpuSeconds, pinApart } from './cpu-pinning.ts';
import { step } from './relay.ts';
import { loadUdpIo } from '../src/core/udp-io/udp-io.ts';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const TAP_IP = '127.0.8.21';
const BACKEND_IP = '127.0.8.22';
/** The relay the tap is held against, in the same run: it mirrors to the tap's backend and to one of its own. */
const RELAY_IP = '127.0.8.23';
const MIRROR_IP = '127.0.8.24';
const PORT = 20500;
const RATES = [1000, 10_000, 30_000] as const;

/**
 * `npm run bench -- tap`: the round trip of devices through an inline tap (`parity record --tap`, its own process,
 * recording every packet) against the same backend reached directly, at 1k, 10k and 30k pps, on a core of its own
 * where taskset allows, with the CPU it spends per request and its reply; on the C datagram path where it is built
 * and on Node's dgram. Then the reference relay the same way, on the same core, with the same load and backend (and a
 * mirror of its own): a tap that costs more than the relay it observes distorts what it measures.
 */
export async function benchTap(): Promise<void> {
  await withBenchCapture('tap', { packets: 100_000, port: PORT }, async (store, dir) => {
    const backends = [BACKEND_IP, MIRROR_IP].map((ip) => spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'generic', '--listen', `${ip}:${PORT}`], { stdio: 'ignore' }));
    try {
      const tapCpu = await tapRows(store, dir, backends[0]?.pid as number);
      await relayAgainst(store, dir, backends.map((b) => b.pid as number), tapCpu);
    } finally {
      for (const backend of backends) await stopTracked(backend);
    }
  });
}

/** The reference relay's CPU per mirrored packet at the tap's rates, on a core of its own, and the tap's against it. */
async function relayAgainst(store: Store, dir: string, backendPids: readonly number[], tapCpu: ReadonlyMap<number, number>): Promise<void> {
  const relayDir = join(dir, 'relay');
  mkdirSync(relayDir);
  const relay = await RelayProcess.start(relayDir, {
    address: RELAY_IP,
    responseTimeoutMs: 2000,
    routes: { globals: { mirror: true, mirror_ip: MIRROR_IP }, routes: [{ port: PORT, target: BACKEND_IP }] },
  });
  try {
    const relayPid = relay.pid as number;
    pinApart(relayPid, [process.pid, ...backendPids]);
    const rows: (string | number)[][] = [];
    for (const rate of RATES) {
      const cpuBefore = cpuSeconds(relayPid);
      const through = await step(store, RELAY_IP, rate);
      const usPerPacket = ((cpuSeconds(relayPid) - cpuBefore) * 1e6) / Math.max(1, through.sent);
      const tap = tapCpu.get(rate);
      rows.push([`${fmtRate(rate)} pps`, `${(through.loss * 100).toFixed(2)}%`, usPerPacket.toFixed(1), tap === undefined ? '-' : tap.toFixed(1), tap === undefined ? '-' : `${(tap / Math.max(usPerPacket, 1e-3)).toFixed(2)}x`]);
    }
    printRows(
      "the reference relay in the same run, on the tap's core, with the same load and backend (and a mirror): CPU per mirrored packet, against the tap's per request and reply (the tap's default datagram path)",
      ['rate', 'relay loss', 'relay CPU µs per mirrored packet', 'tap CPU µs per request and reply', 'tap / relay'],
      rows,
    );
  } finally {
    await relay.stop();
  }
}

/** The tap's rows; returns its CPU per request and reply at each rate on its default datagram path. */
async function tapRows(store: Store, dir: string, backendPid: number): Promise<Map<number, number>> {
  const tapCpu = new Map<number, number>();
  const rows: (string | number)[][] = [];
  // The tap on each datagram path there is: the C one where built (the default), and Node's dgram.
  const paths = loadUdpIo() === undefined ? ['dgram'] : ['native', 'dgram'];
  for (const path of paths) {
    const tap = spawnTracked(process.execPath, [PARITY_BIN, 'record', '--tap', `${TAP_IP}:${PORT}=${BACKEND_IP}:${PORT}`, '--run', `tapped-${path}`, '--protocol', 'generic', '--db', join(dir, `tap-${path}.duckdb`)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, PARITY_UDP_IO: path },
    });
    try {
      let ready = '';
      tap.stderr?.on('data', (chunk: Buffer) => (ready += chunk.toString()));
      while (!ready.includes('recording')) await new Promise((resolve) => setTimeout(resolve, 50));
      const tapPid = tap.pid as number;
      const pinned = pinApart(tapPid, [process.pid, backendPid]);
      process.stdout.write(pinned ? `the tap (${path}) runs on a core of its own; the replayer and the backend share the others\n` : 'no taskset (or one core): the tap shares the cores with the load\n');
      for (const rate of RATES) {
        const direct = await step(store, BACKEND_IP, rate);
        const cpuBefore = cpuSeconds(tapPid);
        const tapped = await step(store, TAP_IP, rate);
        const usPerPacket = ((cpuSeconds(tapPid) - cpuBefore) * 1e6) / Math.max(1, tapped.sent);
        if (path === paths[0]) tapCpu.set(rate, usPerPacket);
        rows.push([`${fmtRate(rate)} pps`, path === 'native' ? 'C datagram path' : 'dgram', `${(tapped.loss * 100).toFixed(2)}%`, tapped.p50.toFixed(3), tapped.p99.toFixed(3), direct.p50.toFixed(3), direct.p99.toFixed(3), (tapped.p50 - direct.p50).toFixed(3), (tapped.p99 - direct.p99).toFixed(3), usPerPacket.toFixed(1)]);
      }
    } finally {
      await stopTracked(tap);
    }
  }
  printRows('device round trip (ms) through an inline tap that records every packet, vs the backend reached directly', ['rate', 'tap sockets', 'loss', 'tap p50', 'tap p99', 'direct p50', 'direct p99', 'added p50', 'added p99', 'tap CPU µs per request and reply'], rows);
  return tapCpu;
}
