import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { debug } from './debug.ts';

/**
 * The last resort's last resort for the processes this one starts: an exit hook does not run when this process is
 * SIGKILLed (a CI job's timeout, the kernel's out-of-memory killer), and a process in a group or session of its own
 * (a scenario's child, a PostgreSQL server) would outlive it, holding its ports. A small process of its own session
 * is told each such group and kills those still listed when this process's end of the pipe closes
 * (orphan-reaper.js). Started with the first group, so a command that starts none pays nothing.
 */
let reaper: ChildProcess | undefined;

function tell(line: string): void {
  if (reaper === undefined) {
    reaper = spawn(process.execPath, [fileURLToPath(new URL('./orphan-reaper.js', import.meta.url))], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    // Without it (no process to spare: EAGAIN, EMFILE) the exit hooks still stop everything on any ordinary end: the
    // reaper is the last resort, not a reason to fail the run.
    reaper.on('error', (error) => debug('no orphan reaper: %s', error.message));
    // Neither the reaper nor its pipe keeps this process alive: it ends when this one does.
    reaper.unref();
    reaper.stdin?.on('error', () => undefined);
    (reaper.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
  }
  reaper.stdin?.write(`${line}\n`);
}

/** Process group `pgid` is killed (SIGKILL) if this process ends before `releaseGroup(pgid)`. */
export function reapGroupWithThisProcess(pgid: number): void {
  tell(`+group ${pgid}`);
}

/** Group `pgid` has ended (or is ended otherwise): it is no longer the reaper's, should its number be reused. */
export function releaseGroup(pgid: number): void {
  tell(`-group ${pgid}`);
}

/**
 * A PostgreSQL server is about to be started in `dataDir` (an absolute path): if this process ends before
 * `releasePgData(dataDir)`, the server named in its postmaster.pid is killed and the directory removed. Named before
 * pg_ctl starts it, so a kill while the server starts still finds it.
 */
export function reapPgDataWithThisProcess(dataDir: string): void {
  tell(`+pgdata ${dataDir}`);
}

export function releasePgData(dataDir: string): void {
  tell(`-pgdata ${dataDir}`);
}

/** `dir` (an absolute path, the run's own files) is removed if this process ends before `releaseDir(dir)`. */
export function reapDirWithThisProcess(dir: string): void {
  tell(`+dir ${dir}`);
}

export function releaseDir(dir: string): void {
  tell(`-dir ${dir}`);
}

/**
 * Starts `command` in a process group of its own (so that a stop reaches what it starts in turn) and hands the group
 * to the reaper until it is empty. A group whose leader ended may still have members (a shell's background
 * children): it stays listed then. Throws as `spawn` does.
 */
export function spawnReaped(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, [...args], { ...options, detached: true });
  const group = child.pid;
  if (group !== undefined) {
    reapGroupWithThisProcess(group);
    child.once('exit', () => {
      if (!groupAlive(group)) releaseGroup(group);
    });
  }
  return child;
}

/** Whether any process is still in group `pgid`. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
