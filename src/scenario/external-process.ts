import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SubprocessError } from '../core/errors.ts';
import { spawnTracked, stopTracked } from './child-processes.ts';
import type { YamlReader } from './yaml-reader.ts';

const formatSeconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`;

type Child = ReturnType<typeof spawnTracked>;

/** How long a system under test may take to become ready, unless its scenario says (`ready_timeout`). */
export const READY_TIMEOUT_MS = 30_000;

/** A scenario's `ready_timeout:` under `external:` at `path` (a JVM may need minutes; a test wants seconds). */
export function parseReadyTimeout(r: YamlReader, external: Record<string, unknown>, path: string): number {
  return external.ready_timeout === undefined ? READY_TIMEOUT_MS : r.duration(external.ready_timeout, `${path}.ready_timeout`);
}

/** A team's own process under test (relay, proxy, agent, pooler), started by a scenario's command for one run. */
export interface ExternalProcess {
  child: Child;
  /** Throws when it exited during the run: a dead process under test is a failed run, not a quiet one. */
  throwIfExited(): void;
  close(): Promise<void>;
}

/** Runs `command` through `sh -c` in `cwd`, its output appended to `logPath`, with `env` added to this process's. */
export function spawnLogged(command: string, where: { cwd: string; logPath: string; env?: Record<string, string> }): Child {
  mkdirSync(dirname(where.logPath), { recursive: true });
  const log = openSync(where.logPath, 'a');
  try {
    return spawnTracked('sh', ['-c', command], { cwd: where.cwd, stdio: ['ignore', log, log], ...(where.env !== undefined && { env: { ...process.env, ...where.env } }) });
  } finally {
    closeSync(log);
  }
}

export function hasExited(child: Child | undefined): boolean {
  return child !== undefined && (child.exitCode !== null || child.signalCode !== null);
}

/**
 * Polls `ready` until it says yes. A process that exits first fails with its exit code and its log's last lines; one
 * not ready by the deadline is stopped, and `neverReady` (with where its output is) says what it never did.
 */
export async function waitUntilReady(
  child: Child | undefined,
  readiness: { what: string; ready: () => Promise<boolean>; logPath: string; neverReady: string; timeoutMs?: number; pollMs?: number },
): Promise<void> {
  const deadline = Date.now() + (readiness.timeoutMs ?? READY_TIMEOUT_MS);
  while (!(await readiness.ready())) {
    if (hasExited(child)) throw exitedError(readiness.what, child?.exitCode ?? child?.signalCode ?? 'unknown', readiness.logPath, 'before it was ready');
    if (Date.now() > deadline) {
      if (child !== undefined) await stopTracked(child);
      throw new SubprocessError(`${readiness.neverReady} within ${formatSeconds(readiness.timeoutMs ?? READY_TIMEOUT_MS)} (ready_timeout; its output: ${readiness.logPath})`);
    }
    await new Promise((resolve) => setTimeout(resolve, readiness.pollMs ?? 100));
  }
}

/** `spawnLogged`, then `waitUntilReady`: the process under test, ready for the run. */
export async function startExternalProcess(
  command: string,
  where: { cwd: string; logPath: string; env: Record<string, string> },
  readiness: { what: string; ready: () => Promise<boolean>; neverReady: string; timeoutMs: number },
): Promise<ExternalProcess> {
  const child = spawnLogged(command, where);
  await waitUntilReady(child, { ...readiness, logPath: where.logPath });
  return {
    child,
    throwIfExited: () => {
      if (hasExited(child)) throw exitedError(readiness.what, child.exitCode ?? child.signalCode ?? 'unknown', where.logPath, 'during the run');
    },
    close: () => stopTracked(child),
  };
}

/** The relay under test exited during the run. */
export function relayExitError(code: number | string, logPath: string): SubprocessError {
  return exitedError('relay', code, logPath, 'during the run');
}

/** The process under test (`what`: relay, proxy, ...) exited: when, its exit code or signal, and its log's last lines. */
export function exitedError(what: string, code: number | string, logPath: string, when: 'before it was ready' | 'during the run'): SubprocessError {
  let tail = '';
  try {
    tail = readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    // No log: the relay printed nothing.
  }
  // A command that ends at once with success has most likely started a server that went to the background (nginx
  // without `daemon off;`, pg_ctl start): out of the run's reach, to stop or to watch, so it is refused, by name.
  const daemonized = code === 0 && when === 'before it was ready' ? ` (a command must stay in the foreground while the run lasts: a server that daemonizes, such as nginx without "daemon off;", is out of the run's reach and may still be running)` : '';
  return new SubprocessError(`${what} under test exited (${typeof code === 'number' ? `code ${code}` : code}) ${when}${daemonized}; ${tail === '' ? `it printed nothing (${logPath})` : `last lines of ${logPath}: ${tail}`}`);
}
