import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { commandExists, fmtRate, printRows, startSink } from './bench-util.ts';

const SOURCE = join(import.meta.dirname, 'native/udp-floor.c');

/** What the C floor achieved at one asked rate (0: as fast as possible). */
export interface FloorResult {
  pps: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** Builds the native floor into `dir` with the C compiler on PATH; undefined (and says why) when there is none. */
export function buildFloor(dir: string): string | undefined {
  const compiler = ['cc', 'gcc', 'clang'].find(commandExists);
  if (compiler === undefined) {
    process.stdout.write('no C compiler on PATH (cc, gcc, clang): the native floor is not measured\n');
    return undefined;
  }
  const binary = join(dir, 'udp-floor');
  const built = spawnSync(compiler, ['-O2', '-o', binary, SOURCE], { encoding: 'utf8' });
  if (built.status !== 0) {
    process.stdout.write(`the native floor did not build (${compiler}: ${built.stderr.trim().split('\n')[0] ?? ''}): not measured\n`);
    return undefined;
  }
  return binary;
}

/** Runs the floor into a fresh sink on the same address as the replayer's runs, with as many devices. */
export async function measureFloor(binary: string, sink: { ip: string; port: number }, ratePps: number, packets: number, devices: number): Promise<FloorResult & { received: number }> {
  const stopSink = await startSink(sink.ip, sink.port);
  const run = spawnSync(binary, [sink.ip, String(sink.port), String(ratePps), String(packets), String(devices), '127.31'], { encoding: 'utf8' });
  const received = await stopSink();
  if (run.status !== 0) throw new Error(`udp-floor failed: ${run.stderr.trim()}`);
  return { ...(JSON.parse(run.stdout) as FloorResult), received };
}

/** The floor beside the replayer's figures at the same rates: the ratio is what the replayer costs over C. */
export function printFloor(rows: readonly { asked: string; ours: FloorResult; floor: FloorResult & { received: number }; packets: number }[]): void {
  printRows(
    'native floor (C, one thread, same devices and sink) against the replayer',
    ['asked', 'floor achieved', 'floor p99 µs', 'floor max µs', 'ours p99 µs', 'ours max µs', 'p99 ratio', 'rate ratio'],
    rows.map(({ asked, ours, floor }) => [
      asked,
      fmtRate(floor.pps),
      floor.p99Us.toFixed(1),
      floor.maxUs.toFixed(1),
      ours.p99Us.toFixed(1),
      ours.maxUs.toFixed(1),
      floor.p99Us > 0 ? `${(ours.p99Us / floor.p99Us).toFixed(1)}x` : '-',
      `${(ours.pps / floor.pps).toFixed(2)}x`,
    ]),
  );
}
