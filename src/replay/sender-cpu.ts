import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ConfigError, UsageError } from '../core/errors.ts';
import type { SenderCpuChoice } from './replay-types.ts';

/**
 * From this planned rate on, `auto` gives the sending thread a CPU of its own. Measured on this project's 2-core
 * machine (`npm run bench -- replay`): at 50k pps its p99 lateness was 1.4-2.1 ms sharing the CPUs against 24-63 µs
 * alone on one. At 10k pps the p99 was the same either way (34 and 36 µs) and the threshold was first set above it,
 * but the max was not: the process's other threads (its recording, DuckDB's) stop the thread for milliseconds now and
 * then when it shares their CPUs. In three runs of `npm run bench -- replay-placement` (2026-12-04, alternating) the
 * max at 10k pps was 1.70-4.93 ms sharing (median 2.7) against 0.53-2.87 ms alone (median 1.0); at 5k and 2k pps the
 * two were alike (5k: 0.88-4.03 ms sharing, 0.65-4.87 ms alone), so below 10k it keeps every CPU, and the suite's
 * replays (429 pps at most in their busiest second) are not all confined to the same CPU when they run side by side.
 */
export const AUTO_SENDER_CPU_FROM_PPS = 10_000;

/** Where the sending thread will run: alone on `cpu`, or sharing every CPU (`cpu` undefined); `why` says which and why. */
export interface SenderPlacement {
  cpu: number | undefined;
  why: string;
}

/**
 * Resolves a choice for a plan asking for at most `plannedPps` (undefined: as fast as possible, or unknown). `auto`
 * picks the last CPU this process may use, where it may use two or more, the plan asks for AUTO_SENDER_CPU_FROM_PPS
 * or more and taskset can be run; anything else shares, saying why. A CPU given by number is checked when the thread
 * is pinned (pinSenderApart), where a fault is the user's to see.
 */
export function placeSender(choice: SenderCpuChoice | undefined, plannedPps: number | undefined): SenderPlacement {
  if (typeof choice === 'number') return { cpu: choice, why: `alone on CPU ${choice}, as asked` };
  if (choice !== 'auto') return { cpu: undefined, why: 'sharing every CPU, as asked' };
  if (plannedPps === undefined) return { cpu: undefined, why: 'sharing every CPU: a replay as fast as possible keeps no schedule to hold' };
  if (plannedPps < AUTO_SENDER_CPU_FROM_PPS) return { cpu: undefined, why: `sharing every CPU: ${Math.round(plannedPps)} pps is below the ${AUTO_SENDER_CPU_FROM_PPS} pps from which it gets one of its own` };
  let allowed: number[];
  try {
    allowed = allowedCpus();
  } catch {
    return { cpu: undefined, why: 'sharing every CPU: this system does not say which CPUs the process may use' };
  }
  const cpu = allowed.at(-1);
  if (cpu === undefined || allowed.length < 2) return { cpu: undefined, why: `sharing every CPU: the process may use ${allowed.length} only` };
  if (spawnSync('taskset', ['-V'], { encoding: 'utf8' }).status !== 0) return { cpu: undefined, why: "sharing every CPU: util-linux's taskset is not here" };
  return { cpu, why: `alone on CPU ${cpu}: ${Math.round(plannedPps)} pps asks for ${AUTO_SENDER_CPU_FROM_PPS} pps or more` };
}

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
