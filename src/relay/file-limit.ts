import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Descriptors kept free of upstream sockets: listeners, the debug server and its connections, the config watcher. */
export const FILE_LIMIT_HEADROOM = 256;

export interface FileLimit {
  soft: number;
  hard: number;
  /** The soft limit was raised to the hard one at start. */
  raised: boolean;
}

/** The process's open-file limit (soft, hard), from /proc/self/limits; undefined where the platform has no such file. */
export function readFileLimit(): { soft: number; hard: number } | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line?.match(/\d+|unlimited/g) ?? []).map((v) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v)));
    return soft === undefined || hard === undefined ? undefined : { soft, hard };
  } catch {
    return undefined;
  }
}

/**
 * Raises the soft open-file limit to the hard one where allowed (Node has no setrlimit: `prlimit` from util-linux does
 * it for this pid), and returns the limit in force. Never throws: a limit that cannot be raised is reported as it is.
 */
export function raiseFileLimit(): FileLimit | undefined {
  const before = readFileLimit();
  if (before === undefined) return undefined;
  if (before.soft >= before.hard || !Number.isFinite(before.hard)) return { ...before, raised: false };
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`], { stdio: 'ignore' });
  } catch {
    return { ...before, raised: false };
  }
  const after = readFileLimit() ?? before;
  return { ...after, raised: after.soft > before.soft };
}

/** The upstream socket budget: what was asked, below the open-file limit by the headroom. */
export function socketBudget(asked: number, limit: FileLimit | undefined): number {
  if (limit === undefined || !Number.isFinite(limit.soft)) return asked;
  return Math.max(16, Math.min(asked, limit.soft - FILE_LIMIT_HEADROOM));
}
