// Plain JavaScript so that the replayer's sending threads load it without the TypeScript loader; types from JSDoc.
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Puts this process's other threads (DuckDB's, libuv's pool, V8's helpers) behind the main one, where the system lets
 * a thread's nice value be set by its id (Linux: a nice value is a thread's own, and threads inherit their creator's,
 * so DuckDB's threads started later by the pool come in behind too). A tap forwards and a simulated backend answers
 * live traffic on the main thread while DuckDB's threads store what they recorded; on a core of their own at equal
 * priority, DuckDB's work delayed the traffic (the backend's round trip p99 at 10k pps 45-90 ms, 22-31 ms with its
 * other threads behind). Lowering needs no privilege, and leaves the process's standing against others as it was.
 * Says how many threads were put behind (0 where threads cannot be listed or set).
 * @param {number} [nice]
 * @returns {number}
 */
export function putOtherThreadsBehind(nice = 10) {
  let tids;
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return 0;
  }
  let lowered = 0;
  for (const tid of tids) {
    if (Number(tid) === process.pid) continue;
    try {
      setPriority(Number(tid), nice);
      lowered++;
    } catch {
      // Gone meanwhile, or not allowed here.
    }
  }
  return lowered;
}

/**
 * Puts the calling thread ahead of every ordinary thread on its CPU where the system allows it (root, CAP_SYS_NICE);
 * elsewhere it keeps the default priority and shares the cores like any thread. For work due at exact times: the
 * replayer's sending threads, and a tap forwarding (at 30k pps on a core of its own it lost 11-40% with only its own
 * threads put behind, none with this: its CPU also runs the kernel's threads). Not for a simulated backend: it would
 * outrank the relay under test on a shared machine. Says whether it was raised.
 * @param {number} [nice]
 * @returns {boolean}
 */
export function raiseThisThread(nice = -10) {
  try {
    setPriority(nice);
    return true;
  } catch {
    return false;
  }
}
