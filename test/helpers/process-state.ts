import { readFileSync } from 'node:fs';

/** A process's state letter as the kernel reports it in /proc (T: stopped, as by SIGSTOP). */
export function processState(pid: number): string | undefined {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}
