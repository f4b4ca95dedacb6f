import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopTracked } from '../src/scenario/child-processes.ts';
import { fmtRate, printRows } from './bench-util.ts';
import { withBenchCapture } from './generate-capture.ts';
import { cpuSeconds, pinApart } from './cpu-pinning.ts';
import { step } from './relay.ts';

const PARITY_BIN = fileURLToPath(new URL('../src/cli/parity.js', import.meta.url));
const PORT = 20500;

/**
 * `npm run bench -- backend`: what recording costs a simulated backend's devices. The same `parity backend` reached
 * directly at 1k and 10k pps, once answering only and once recording every packet and answer (`--db`, committed once
 * a second to a file it releases between commits), on a core of its own where taskset allows: the devices' round trip
 * and the backend's CPU per request and answer. A backend that records must answer as one that does not: its answer
 * times are what a run compares across backends.
 */
export async function benchBackend(): Promise<void> {
  await withBenchCapture('backend', { packets: 100_000, port: PORT }, async (store, dir) => {
    const rows: (string | number)[][] = [];
    for (const [mode, ip] of [['answering only', '127.0.8.41'], ['recording (--db)', '127.0.8.42']] as const) {
      const recording = mode !== 'answering only';
      const backend = spawnTracked(process.execPath, [PARITY_BIN, 'backend', '--protocol', 'generic', '--listen', `${ip}:${PORT}`, ...(recording ? ['--db', join(dir, 'backend.duckdb'), '--run', 'recorded'] : [])], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      try {
        let said = '';
        backend.stderr?.on('data', (chunk: Buffer) => (said += chunk.toString()));
        for (let waited = 0; !said.includes('listening'); waited += 50) {
          if (waited > 30_000) throw new Error(`parity backend did not start: ${said.trim()}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const pid = backend.pid as number;
        if (!pinApart(pid, [process.pid])) process.stdout.write('no taskset (or one core): the backend shares the cores with the load\n');
        for (const rate of [1000, 10_000]) {
          const cpuBefore = cpuSeconds(pid);
          const result = await step(store, ip, rate);
          const usPerPacket = ((cpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, result.sent);
          rows.push([`${fmtRate(rate)} pps`, mode, `${(result.loss * 100).toFixed(2)}%`, result.p50.toFixed(3), result.p99.toFixed(3), usPerPacket.toFixed(1)]);
        }
      } finally {
        await stopTracked(backend);
      }
    }
    printRows('device round trip (ms) to a parity backend reached directly, answering only and recording every packet', ['rate', 'backend', 'loss', 'p50', 'p99', 'backend CPU µs per request and answer'], rows);
  });
}
