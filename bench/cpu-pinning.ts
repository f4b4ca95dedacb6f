import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, setPriority } from 'node:os';
import { commandExists } from './bench-util.ts';

/** The last CPU for what is measured alone, and the list of the others in taskset's form. */
export interface CorePlan {
  own: number;
  others: string;
}

/** How the benchmarks split the cores; undefined with one core or without taskset, when nothing can be pinned. */
export function corePlan(): CorePlan | undefined {
  const count = cpus().length;
  if (count < 2 || !commandExists('taskset')) return undefined;
  return { own: count - 1, others: count === 2 ? '0' : `0-${count - 2}` };
}

/**
 * Puts the process under test on a core of its own and everything else (this process, the backends) on the other
 * cores, as a relay runs in production: `taskset` on every thread of each. False (and nothing moved) without taskset
 * or with one core.
 */
export function pinApart(own: number | readonly number[], others: readonly number[]): boolean {
  const plan = corePlan();
  if (plan === undefined) return false;
  const pin = (pid: number, list: string): boolean => spawnSync('taskset', ['-a', '-p', '-c', list, String(pid)], { stdio: 'ignore' }).status === 0;
  return (typeof own === 'number' ? [own] : own).every((pid) => pin(pid, String(plan.own))) && others.every((pid) => pin(pid, plan.others));
}

/** Every process and thread back on every CPU (after pinApart). */
export function unpin(pids: readonly number[]): void {
  const all = `0-${cpus().length - 1}`;
  for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', all, String(pid)], { stdio: 'ignore' });
}

/** A command as spawned, under `taskset -c cpus` when cpus are given. */
export function onCpus(binary: string, args: readonly string[], cpus: string | undefined): [string, string[]] {
  return cpus === undefined ? [binary, [...args]] : ['taskset', ['-c', cpus, binary, ...args]];
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds a process has spent (user and system), from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat; after the command name they are the 12th and 13th.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Every thread of each process under SCHED_FIFO at priority 1 (`chrt`), so that a datagram that wakes it is answered
 * at once, ahead of ordinary threads on its core. False (and nothing changed) where `chrt` is missing or the system
 * refuses real-time threads. Only for processes that never spin: a real-time thread that spins starves its core.
 */
export function answerAtOnce(pids: readonly number[]): boolean {
  if (!commandExists('chrt')) return false;
  return pids.every((pid) => spawnSync('chrt', ['-f', '-a', '-p', '1', String(pid)], { stdio: 'ignore' }).status === 0);
}

/**
 * Every thread of each process back under the ordinary scheduler (after answerAtOnce), its main thread at nice -10 as
 * the replayer's threads run: woken by a datagram it waits its turn, and answers what arrived meanwhile together.
 * False where it could not be done.
 */
export function answerInTurn(pids: readonly number[]): boolean {
  if (!commandExists('chrt')) return false;
  return pids.every((pid) => spawnSync('chrt', ['-o', '-a', '-p', '0', String(pid)], { stdio: 'ignore' }).status === 0 && niceAsReplayer(pid));
}

/** The process's main thread at nice -10, as the replayer's threads run; false where raising it is not allowed. */
export function niceAsReplayer(pid: number): boolean {
  try {
    setPriority(pid, -10);
    return true;
  } catch {
    return false;
  }
}
