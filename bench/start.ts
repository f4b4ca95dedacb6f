import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSources } from '../src/cli/compile-sources.js';
import { quantile } from '../src/core/stats.ts';
import { printRows, RUN_TS, timeCommand } from './bench-util.ts';

const PARITY = join(import.meta.dirname, '../src/cli/parity.js');
const MAIN_TS = join(import.meta.dirname, '../src/cli/main.ts');
const STARTS = 15;

/**
 * `npm run bench -- start`: how long a `parity` process takes to start, as every relay, backend and command a
 * scenario or a test starts pays it. Each command timed from the sources compiled ahead (as `parity` runs when they
 * are current) and through tsx's loader (as it runs when they are not), against a bare `node -e 0` in the same run,
 * the floor. The three alternate, so that the machine's drift falls on each alike.
 */
export async function benchStart(): Promise<void> {
  await compileSources();
  const dir = mkdtempSync(join(tmpdir(), 'parity-bench-start-'));
  try {
    const db = join(dir, 'empty.duckdb');
    const commands: { name: string; args: string[] }[] = [
      { name: 'relay --help', args: ['relay', '--help'] },
      { name: 'runs (opens a store)', args: ['runs', '--db', db] },
    ];
    const floor: number[] = [];
    const rows: (string | number)[][] = [];
    const timings = commands.map(() => ({ compiled: [] as number[], tsx: [] as number[] }));
    for (let i = 0; i < STARTS; i++) {
      floor.push(timed(process.execPath, ['-e', '0']));
      commands.forEach((command, c) => {
        const of = timings[c] as { compiled: number[]; tsx: number[] };
        of.compiled.push(timed(process.execPath, [PARITY, ...command.args]));
        of.tsx.push(timed(process.execPath, [RUN_TS, MAIN_TS, ...command.args]));
      });
    }
    // Every list has STARTS values: never empty.
    const at = (values: number[], q: number): number => quantile(values, q) ?? Number.NaN;
    const ms = (values: number[], q: number): string => (at(values, q) * 1000).toFixed(0);
    const floorP50 = at(floor, 0.5);
    rows.push(['node -e 0 (the floor)', ms(floor, 0.5), ms(floor, 0.9), '1.0x', '']);
    commands.forEach((command, c) => {
      const of = timings[c] as { compiled: number[]; tsx: number[] };
      for (const [how, values] of [['compiled', of.compiled], ['through tsx', of.tsx]] as const) {
        rows.push([`parity ${command.name}, ${how}`, ms(values, 0.5), ms(values, 0.9), `${(at(values, 0.5) / floorP50).toFixed(1)}x`, how === 'compiled' ? `${(at(of.tsx, 0.5) / at(values, 0.5)).toFixed(2)}x faster` : '']);
      }
    });
    printRows(`Start of a parity process (${STARTS} starts each, alternating)`, ['process', 'p50 ms', 'p90 ms', 'x floor', ''], rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function timed(command: string, args: string[]): number {
  const seconds = timeCommand(command, args);
  if (seconds === undefined) throw new Error(`${command} ${args.join(' ')} failed`);
  return seconds;
}
