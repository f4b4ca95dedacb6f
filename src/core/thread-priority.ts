import { setPriority } from 'node:os';

/**
 * Puts the calling thread ahead of the process's other threads where the system allows it (root, CAP_SYS_NICE): on
 * Linux a nice value is a thread's own, and threads inherit their creator's, so call it once the threads that should
 * stay behind (DuckDB's, libuv's pool, both started by the store's first use) exist. A tap forwards live traffic on
 * its main thread while DuckDB's threads store what it recorded: on a core of its own at equal priority, their work
 * delayed the traffic. Says whether it was raised.
 */
export function raiseThisThread(nice = -10): boolean {
  try {
    setPriority(nice);
    return true;
  } catch {
    return false;
  }
}
