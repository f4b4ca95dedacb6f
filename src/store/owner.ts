import { hostname } from 'node:os';

/** The process that writes a run or a capture: tells work in progress from work whose writer was killed. */
export interface Owner {
  pid: number;
  host: string;
}

export function thisProcess(): Owner {
  return { pid: process.pid, host: hostname() };
}

/** Whether a process of this host with that pid is alive (a pid of another host cannot be checked from here). */
export function ownerAlive(owner: Owner): boolean {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function ownerOf(row: { owner_pid?: unknown; owner_host?: unknown }): Owner | null {
  return typeof row.owner_pid === 'number' && typeof row.owner_host === 'string' ? { pid: row.owner_pid, host: row.owner_host } : null;
}
