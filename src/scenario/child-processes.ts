import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { spawnReaped } from '../core/process-reaper.ts';

/**
 * Every process a scenario starts is registered here and killed, whatever happens: on a normal stop, on an error
 * half-way, on Ctrl-C, and as a last resort when this process exits. A scenario never leaves a process behind.
 */
const children = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every process still registered, at once (SIGKILL to each one's group): for a process about to be killed itself. */
export function killAll(): void {
  for (const child of children) {
    try {
      // Negative pid: the whole process group (a shell command's children too).
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  if (!exitHookInstalled) {
    process.once('exit', killAll);
    exitHookInstalled = true;
  }
  // Its own process group, so a stop reaches everything it started; reaped even if this process is SIGKILLed, when no
  // exit hook runs.
  const child = spawnReaped(command, args, options);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops a child: SIGTERM to its group, SIGKILL if it has not exited after `graceMs`. */
export async function stopTracked(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, name);
    } catch {
      child.kill(name);
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
