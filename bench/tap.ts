import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importCaptures } from '../src/capture/import-capture.ts';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import { Store } from '../src/store/store.ts';
import { fmtRate, printRows } from './bench-util.ts';
import { generateBenchCapture } from './generate-capture.ts';
import { cpuSeconds, pinApart } from './cpu-pinning.ts';
import { step } from './relay.ts';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const TAP_IP = '127.0.8.21';
const BACKEND_IP = '127.0.8.22';
const PORT = 20500;

/**
 * `npm run bench -- tap`: the round trip of devices through an inline tap (`parity record --tap`, its own process,
 * recording every packet) against the same backend reached directly, at 1k, 10k and 30k pps, on a core of its own
 * where taskset allows, with the CPU it spends per request and its reply.
 */
export async function benchTap(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-tap-'));
  const file = join(dir, 'tap.pcap');
  generateBenchCapture(file, 100_000, 'pcap');
  const store = await Store.open(join(dir, 'bench.duckdb'));
  const backend = spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'generic', '--listen', `${BACKEND_IP}:${PORT}`], { stdio: 'ignore' });
  const tap = spawnTracked(process.execPath, [PARITY_BIN, 'record', '--tap', `${TAP_IP}:${PORT}=${BACKEND_IP}:${PORT}`, '--run', 'tapped', '--protocol', 'generic', '--db', join(dir, 'tap.duckdb')], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let ready = '';
    tap.stderr?.on('data', (chunk: Buffer) => (ready += chunk.toString()));
    while (!ready.includes('recording')) await new Promise((resolve) => setTimeout(resolve, 50));
    await importCaptures(store, { files: [file], name: 'bench', ports: [PORT] });
    const tapPid = tap.pid as number;
    const pinned = pinApart(tapPid, [process.pid, backend.pid as number]);
    process.stdout.write(pinned ? 'the tap runs on a core of its own; the replayer and the backend share the others\n' : 'no taskset (or one core): the tap shares the cores with the load\n');
    const rows: (string | number)[][] = [];
    for (const rate of [1000, 10_000, 30_000]) {
      const direct = await step(store, BACKEND_IP, rate);
      const cpuBefore = cpuSeconds(tapPid);
      const tapped = await step(store, TAP_IP, rate);
      const usPerPacket = ((cpuSeconds(tapPid) - cpuBefore) * 1e6) / Math.max(1, tapped.sent);
      rows.push([`${fmtRate(rate)} pps`, `${(tapped.loss * 100).toFixed(2)}%`, tapped.p50.toFixed(3), tapped.p99.toFixed(3), direct.p50.toFixed(3), direct.p99.toFixed(3), (tapped.p50 - direct.p50).toFixed(3), (tapped.p99 - direct.p99).toFixed(3), usPerPacket.toFixed(1)]);
    }
    printRows('device round trip (ms) through an inline tap that records every packet, vs the backend reached directly', ['rate', 'loss', 'tap p50', 'tap p99', 'direct p50', 'direct p99', 'added p50', 'added p99', 'tap CPU µs per request and reply'], rows);
  } finally {
    await stopTracked(tap);
    await stopTracked(backend);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
