import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import type { Store } from '../src/store/store.ts';
import { fmtRate, printRows } from './bench-util.ts';
import { withBenchCapture } from './generate-capture.ts';
import { cpuSeconds, pinApart } from './cpu-pinning.ts';
import { step } from './relay.ts';
import { loadUdpIo } from '../src/core/udp-io/udp-io.ts';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const TAP_IP = '127.0.8.21';
const BACKEND_IP = '127.0.8.22';
const PORT = 20500;

/**
 * `npm run bench -- tap`: the round trip of devices through an inline tap (`parity record --tap`, its own process,
 * recording every packet) against the same backend reached directly, at 1k, 10k and 30k pps, on a core of its own
 * where taskset allows, with the CPU it spends per request and its reply; on the C datagram path where it is built
 * and on Node's dgram.
 */
export async function benchTap(): Promise<void> {
  await withBenchCapture('tap', { packets: 100_000, port: PORT }, async (store, dir) => {
    const backend = spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'generic', '--listen', `${BACKEND_IP}:${PORT}`], { stdio: 'ignore' });
    try {
      await tapRows(store, dir, backend.pid as number);
    } finally {
      await stopTracked(backend);
    }
  });
}

async function tapRows(store: Store, dir: string, backendPid: number): Promise<void> {
  const rows: (string | number)[][] = [];
  // The tap on each datagram path there is: the C one where built (the default), and Node's dgram.
  for (const path of loadUdpIo() === undefined ? ['dgram'] : ['native', 'dgram']) {
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
      for (const rate of [1000, 10_000, 30_000]) {
        const direct = await step(store, BACKEND_IP, rate);
        const cpuBefore = cpuSeconds(tapPid);
        const tapped = await step(store, TAP_IP, rate);
        const usPerPacket = ((cpuSeconds(tapPid) - cpuBefore) * 1e6) / Math.max(1, tapped.sent);
        rows.push([`${fmtRate(rate)} pps`, path === 'native' ? 'C datagram path' : 'dgram', `${(tapped.loss * 100).toFixed(2)}%`, tapped.p50.toFixed(3), tapped.p99.toFixed(3), direct.p50.toFixed(3), direct.p99.toFixed(3), (tapped.p50 - direct.p50).toFixed(3), (tapped.p99 - direct.p99).toFixed(3), usPerPacket.toFixed(1)]);
      }
    } finally {
      await stopTracked(tap);
    }
  }
  printRows('device round trip (ms) through an inline tap that records every packet, vs the backend reached directly', ['rate', 'tap sockets', 'loss', 'tap p50', 'tap p99', 'direct p50', 'direct p99', 'added p50', 'added p99', 'tap CPU µs per request and reply'], rows);
}
