import { readdirSync, readFileSync } from 'node:fs';

/** What the machine took from this process in one interval, in ms: what a late send can be blamed on. */
export interface StallSample {
  /** CLOCK_MONOTONIC ns at the end of the interval (the clock the replay's sends are stamped with). */
  atNs: bigint;
  /** CPU time the hypervisor gave to other guests while this one's vCPUs wanted to run (/proc/stat steal), all CPUs. */
  stealMs: number;
  /** Time some task on the machine waited for a CPU (/proc/pressure/cpu, "some"). */
  cpuPressureMs: number;
  /** The longest any one thread of this process waited on a run queue (/proc/self/task/N/schedstat), and which. */
  worstRunWaitMs: number;
  worstThread: string;
  /** How long the replayer's sending thread waited on a run queue; null when it is not found. */
  senderRunWaitMs: number | null;
}

const USER_HZ = 100;
const SENDING_THREAD = 'sending thread';

function stealJiffies(): number {
  if (process.platform !== 'linux') return 0;
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  return Number(cpu.trim().split(/\s+/)[8] ?? 0);
}

/** The hypervisor's steal from this machine so far, all CPUs, in ms (0 where the platform does not say). */
export function stolenMs(): number {
  return (stealJiffies() * 1000) / USER_HZ;
}

function cpuPressureUs(): number {
  try {
    return Number(/some .*total=(\d+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * A thread by what it is: the main thread (its id is the process's), the replayer's sending thread (the one that
 * raised its own priority: src/replay/send-worker.js), or another (DuckDB's, libuv's, V8's).
 */
function threadName(tid: string): string {
  if (Number(tid) === process.pid) return 'main thread';
  // Field 19 of stat is the nice value; the fields before it follow the name in parentheses.
  const afterName = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1] ?? '';
  return Number(afterName.split(' ')[16]) < 0 ? SENDING_THREAD : `thread ${tid}`;
}

/** Each thread of this process: its run-queue wait so far (ns) and its name. */
function threadWaits(): Map<string, { waitNs: number; name: string }> {
  const waits = new Map<string, { waitNs: number; name: string }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const waitNs = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[1] ?? 0);
      waits.set(tid, { waitNs, name: threadName(tid) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return waits;
}

/**
 * Samples, once a second, how much the machine held this process back (Linux only; elsewhere it records nothing), so
 * that a second in which sends were late can be told apart: the hypervisor's steal, a busy machine, one of this
 * process's threads kept off a CPU, or none of those (then it is the thread's own doing: a collection, a page fault).
 */
export class MachineStalls {
  readonly samples: StallSample[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private last: { steal: number; pressure: number; waits: Map<string, { waitNs: number; name: string }> } | undefined;

  constructor() {
    if (process.platform !== 'linux') return;
    this.last = { steal: stealJiffies(), pressure: cpuPressureUs(), waits: threadWaits() };
    this.timer = setInterval(() => this.sample(), 1000);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** The sample whose interval holds the moment `atNs`, if one does. */
  at(atNs: bigint): StallSample | undefined {
    return this.samples.find((s, i) => s.atNs >= atNs && (i === 0 || (this.samples[i - 1] as StallSample).atNs < atNs));
  }

  private sample(): void {
    const last = this.last;
    if (last === undefined) return;
    const steal = stealJiffies();
    const pressure = cpuPressureUs();
    const waits = threadWaits();
    let worst = { ms: 0, name: '-' };
    let sender: number | null = null;
    for (const [tid, now] of waits) {
      const ms = (now.waitNs - (last.waits.get(tid)?.waitNs ?? now.waitNs)) / 1e6;
      if (ms > worst.ms) worst = { ms, name: now.name };
      if (now.name === SENDING_THREAD) sender = ms;
    }
    this.samples.push({
      atNs: process.hrtime.bigint(),
      stealMs: ((steal - last.steal) * 1000) / USER_HZ,
      cpuPressureMs: (pressure - last.pressure) / 1000,
      worstRunWaitMs: worst.ms,
      worstThread: worst.name,
      senderRunWaitMs: sender,
    });
    this.last = { steal, pressure, waits };
  }
}
