import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

afterEach(killAllParity);

/** Each thread's nice value in process `pid`, the main thread's apart (from /proc: field 19 of a task's stat). */
function niceValues(pid: number): { main: number; others: number[] } {
  const others: number[] = [];
  let main = Number.NaN;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    if (Number(tid) === pid) main = nice;
    else others.push(nice);
  }
  return { main, others };
}

/** Whether this process may raise a thread's priority (root here, as in CI; elsewhere the raise is skipped). */
const mayRaise = process.getuid?.() === 0;

describe.skipIf(process.platform !== 'linux')('the threads of a recorder (subprocess)', () => {
  it('a backend with a store answers on a thread ahead of its others: DuckDB and the pool are put behind, itself left as it was', async () => {
    await withTempDir(async (dir) => {
      const backend = spawnParity(['backend', '--listen', '127.0.75.2:18190', '--protocol', 'generic', '--db', join(dir, 'b.duckdb'), '--run', 'n']);
      expect(await backend.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      const { main, others } = niceValues(backend.child.pid as number);
      expect(main).toBe(0);
      expect(others.length).toBeGreaterThan(0);
      expect(others.every((nice) => nice === 10)).toBe(true);
    });
  });

  it('a tap forwards on a thread ahead of its others, and ahead of ordinary threads where it may', async () => {
    await withTempDir(async (dir) => {
      const tap = spawnParity(['record', '--tap', '127.0.75.11:18191=127.0.75.12:18191', '--capture', 'prio', '--db', join(dir, 't.duckdb')]);
      expect(await tap.waitForOutput((_out, err) => err.includes('recording through'))).toBe(true);
      const { main, others } = niceValues(tap.child.pid as number);
      expect(main).toBe(mayRaise ? -10 : 0);
      expect(others.length).toBeGreaterThan(0);
      expect(others.every((nice) => nice === 10)).toBe(true);
    });
  });
});
