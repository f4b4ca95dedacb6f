import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError, UsageError } from '../core/errors.ts';

/**
 * Gives the sending thread a CPU of its own: every other thread of this process (the main thread's store work,
 * DuckDB's threads, the collector's helpers) moves to the other CPUs, and threads started later inherit that. Measured
 * on a 2-core machine: the sending thread otherwise waits 20-50 ms per 2 s run on the run queue behind them, in stalls
 * of up to several milliseconds, whatever its nice value. Linux only, through util-linux's `taskset` (Node has no call
 * for a thread's affinity). Returns what puts the process back as it was.
 */
export function pinSenderApart(senderTid: number, cpu: number): () => void {
  const allowed = allowedCpus();
  if (!allowed.includes(cpu)) throw new UsageError(`--sender-cpu ${cpu}: this process may run on CPUs ${allowed.join(',')} only`, { field: 'sender-cpu' });
  const others = allowed.filter((c) => c !== cpu);
  if (others.length === 0) throw new UsageError(`--sender-cpu ${cpu}: a CPU of its own needs at least two (this process has ${allowed.length} of ${availableParallelism()})`, { field: 'sender-cpu' });
  taskset(['-a', '-p', '-c', others.join(','), String(process.pid)]);
  taskset(['-p', '-c', String(cpu), String(senderTid)]);
  return () => {
    // The sending thread may be gone by now: only the process's own threads are put back.
    taskset(['-a', '-p', '-c', allowed.join(','), String(process.pid)], { quiet: true });
  };
}

/** This process's allowed CPUs, from the kernel's own list (`Cpus_allowed_list: 0-3,6`). */
export function allowedCpus(): number[] {
  let status: string;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    throw new ConfigError('--sender-cpu: CPU pinning needs Linux (/proc/self/status is not readable here)', { field: 'sender-cpu' });
  }
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? '';
  return list.split(',').flatMap((range) => {
    const [from, to] = range.split('-').map(Number);
    if (from === undefined || !Number.isInteger(from)) return [];
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i);
  });
}

function taskset(args: readonly string[], options: { quiet?: boolean } = {}): void {
  const run = spawnSync('taskset', args, { encoding: 'utf8' });
  if (options.quiet === true) return;
  if (run.error !== undefined) throw new ConfigError(`--sender-cpu: taskset could not be run (${(run.error as NodeJS.ErrnoException).code ?? run.error.message}); it comes with util-linux`, { field: 'sender-cpu' });
  if (run.status !== 0) throw new ConfigError(`--sender-cpu: taskset ${args.join(' ')} failed: ${run.stderr.trim().split('\n')[0] ?? ''}`, { field: 'sender-cpu' });
}
