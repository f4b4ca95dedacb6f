import { readdirSync, readFileSync } from 'node:fs';

/** A process's state letter as the kernel reports it in /proc (T: stopped, as by SIGSTOP). */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** A process's parent and process group, as the kernel reports them; undefined once it is gone. */
function ids(pid: number): { ppid: number; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** Every process's id now. */
export function processes(): number[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

/** The processes whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  return processes().filter((p) => ids(p)?.ppid === pid);
}

/** The processes still in process group `pgid` (a zombie counts: it is not reaped yet, but it holds nothing). */
export function groupMembers(pgid: number): number[] {
  return processes().filter((p) => ids(p)?.pgrp === pgid && processState(p) !== 'Z');
}

/** Its command line, arguments joined by spaces; '' once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}
