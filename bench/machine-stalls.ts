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
  /** How long the replayer's sending thread waited on a run queue, and ran; null when it is not found. */
  senderRunWaitMs: number | null;
  senderOnCpuMs: number | null;
  /** Time some task waited for memory (reclaim, /proc/pressure/memory) or for I/O (/proc/pressure/io), "some". */
  memoryPressureMs: number;
  ioPressureMs: number;
  /** The interval's length; the CPU time the machine was busy (all CPUs), and this process's share of it. */
  intervalMs: number;
  machineBusyMs: number;
  processBusyMs: number;
  /** The thread of this process that ran the longest in it, other than the sending thread. */
  busiestRunMs: number;
  busiestThread: string;
}

const USER_HZ = 100;
const SENDING_THREAD = 'sending thread';

/** The machine's CPU times so far, all CPUs, in ms: busy (user, nice, system, irq, softirq) and stolen by the host. */
function cpuTimes(): { busyMs: number; stealMs: number } {
  if (process.platform !== 'linux') return { busyMs: 0, stealMs: 0 };
  // user nice system idle iowait irq softirq steal, in ticks
  const ticks = (readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  const ms = (n: number): number => (n * 1000) / USER_HZ;
  return { busyMs: ms(user + nice + system + irq + softirq), stealMs: ms(steal) };
}

/** The hypervisor's steal from this machine so far, all CPUs, in ms (0 where the platform does not say). */
export function stolenMs(): number {
  return cpuTimes().stealMs;
}

function pressureUs(resource: 'cpu' | 'memory' | 'io'): number {
  try {
    return Number(/some .*total=(\d+)/.exec(readFileSync(`/proc/pressure/${resource}`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function pressures(): Record<'cpu' | 'memory' | 'io', number> {
  return { cpu: pressureUs('cpu'), memory: pressureUs('memory'), io: pressureUs('io') };
}

/**
 * Whether a thread runs at a raised priority: the replayer's sending thread raises its own (src/replay/send-worker.js),
 * and threads it starts inherit it; of those, the one that has run the longest is the sending thread (it spins).
 */
function raisedPriority(tid: string): boolean {
  // Field 19 of stat is the nice value; the fields before it follow the name in parentheses.
  const afterName = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1] ?? '';
  return Number(afterName.split(' ')[16]) < 0;
}

/** This process's CPU time so far (user and system, all threads), in ms. */
function processCpuMs(): number {
  const fields = (readFileSync('/proc/self/stat', 'utf8').split(') ')[1] ?? '').split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

interface ThreadTimes { runNs: number; waitNs: number; name: string; raised: boolean }

/** Each thread of this process: its time on a CPU and waiting on a run queue so far (ns), and its name. */
function threadWaits(): Map<string, ThreadTimes> {
  const waits = new Map<string, ThreadTimes>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const [runNs, waitNs] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const raised = raisedPriority(tid);
      waits.set(tid, { runNs: runNs ?? 0, waitNs: waitNs ?? 0, name: Number(tid) === process.pid ? 'main thread' : `thread ${tid}`, raised });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return waits;
}

/**
 * Samples, once a second, how much the machine held this process back (Linux only; elsewhere it records nothing), so
 * that a second in which sends were late can be told apart: the hypervisor's steal, a busy machine, one of this
 * process's threads kept off a CPU, or none of those (then the collector, which the replay's stats count, or what a
 * guest cannot see: the host's scheduling below its 10 ms tick of steal, its faults on guest memory).
 */
export class MachineStalls {
  readonly samples: StallSample[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private last: { atNs: bigint; cpu: { busyMs: number; stealMs: number }; pressure: Record<'cpu' | 'memory' | 'io', number>; waits: Map<string, ThreadTimes>; process: number } | undefined;

  constructor() {
    if (process.platform !== 'linux') return;
    this.last = { atNs: process.hrtime.bigint(), cpu: cpuTimes(), pressure: pressures(), waits: threadWaits(), process: processCpuMs() };
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
    const atNs = process.hrtime.bigint();
    const cpu = cpuTimes();
    const pressure = pressures();
    const waits = threadWaits();
    const busy = processCpuMs();
    const senderTid = [...waits].filter(([, t]) => t.raised).sort(([, a], [, b]) => b.runNs - a.runNs)[0]?.[0];
    let worst = { ms: 0, name: '-' };
    let busiest = { ms: 0, name: '-' };
    let sender: { waitMs: number; runMs: number } | null = null;
    for (const [tid, now] of waits) {
      const before = last.waits.get(tid) ?? now;
      const name = tid === senderTid ? SENDING_THREAD : now.name;
      const waitMs = (now.waitNs - before.waitNs) / 1e6;
      const runMs = (now.runNs - before.runNs) / 1e6;
      if (waitMs > worst.ms) worst = { ms: waitMs, name };
      if (tid === senderTid) sender = { waitMs, runMs };
      else if (runMs > busiest.ms) busiest = { ms: runMs, name };
    }
    this.samples.push({
      atNs,
      stealMs: cpu.stealMs - last.cpu.stealMs,
      cpuPressureMs: (pressure.cpu - last.pressure.cpu) / 1000,
      memoryPressureMs: (pressure.memory - last.pressure.memory) / 1000,
      ioPressureMs: (pressure.io - last.pressure.io) / 1000,
      worstRunWaitMs: worst.ms,
      worstThread: worst.name,
      senderRunWaitMs: sender?.waitMs ?? null,
      senderOnCpuMs: sender?.runMs ?? null,
      intervalMs: Number(atNs - last.atNs) / 1e6,
      machineBusyMs: cpu.busyMs - last.cpu.busyMs,
      processBusyMs: busy - last.process,
      busiestRunMs: busiest.ms,
      busiestThread: busiest.name,
    });
    this.last = { atNs, cpu, pressure, waits, process: busy };
  }
}

/**
 * The kernel's DAMON threads (`kdamond.N`: a memory monitor a host may run in its guests to take memory back) and the
 * CPUs each may run on, as "kdamond.0 (pid 77) on CPUs 0-1"; none where there are none or /proc cannot be read. On
 * this project's machine one ran 1.5-2.6 ms at a time on the sending thread's CPU (docs/performance.md, 2026-12-01).
 */
export function damonThreads(): string[] {
  if (process.platform !== 'linux') return [];
  const found: string[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  for (const pid of pids) {
    try {
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!comm.startsWith('kdamond')) continue;
      const cpus = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
      found.push(`${comm} (pid ${pid}) on CPUs ${cpus}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}
