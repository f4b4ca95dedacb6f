import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request } from 'undici';
import { SubprocessError } from '../core/errors.ts';
import { spawnTracked, stopTracked } from './child-processes.ts';
import type { ScenarioSpec } from './scenario-spec.ts';

/** Where an external relay's output goes: beside the run's reports, linked from report.html. */
export function relayLogPath(reportsDir: string, runName: string): string {
  return join(reportsDir, runName, 'relay.log');
}

/**
 * Starts an external relay's `command` in the scenario file's directory, its output in `logPath`, and waits until it
 * is ready. A relay that exits before it is ready fails the run with its exit code and the log's last lines.
 */
export async function startExternalRelay(relay: Extract<ScenarioSpec['relay'], { kind: 'external' }>, where: { cwd: string; logPath: string }): Promise<ReturnType<typeof spawnTracked> | undefined> {
  let child: ReturnType<typeof spawnTracked> | undefined;
  if (relay.command !== undefined) {
    mkdirSync(dirname(where.logPath), { recursive: true });
    const log = openSync(where.logPath, 'a');
    try {
      child = spawnTracked('sh', ['-c', relay.command], { cwd: where.cwd, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
  }
  const exited = (): boolean => child !== undefined && (child.exitCode !== null || child.signalCode !== null);
  const deadline = Date.now() + 30_000;
  if (relay.readyUrl !== undefined) {
    for (;;) {
      const ok = await request(relay.readyUrl).then((r) => (r.body.dump(), r.statusCode === 200), () => false);
      if (ok) break;
      if (exited()) throw relayExitError(child?.exitCode ?? child?.signalCode ?? 'unknown', where.logPath);
      if (Date.now() > deadline) {
        if (child !== undefined) await stopTracked(child);
        throw new SubprocessError(`relay under test never became ready at ${relay.readyUrl} (its output: ${where.logPath})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } else if (child !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, relay.readyAfterMs));
    if (exited()) throw relayExitError(child.exitCode ?? child.signalCode ?? 'unknown', where.logPath);
  }
  return child;
}

/**
 * Calls `onExit` if the relay under test exits while the run goes on; returns what stops watching, so that its stop at
 * the end is not taken for an exit.
 */
export function watchExternalRelay(child: ReturnType<typeof spawnTracked> | undefined, onExit: (code: number | string) => void): () => void {
  if (child === undefined) return () => undefined;
  const listener = (code: number | null, signal: NodeJS.Signals | null): void => onExit(code ?? signal ?? 'unknown');
  child.once('exit', listener);
  return () => child.removeListener('exit', listener);
}

export function relayExitError(code: number | string, logPath: string): SubprocessError {
  let tail = '';
  try {
    tail = readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    // No log: the relay printed nothing.
  }
  return new SubprocessError(`relay under test exited (${typeof code === 'number' ? `code ${code}` : code}) during the run; ${tail === '' ? 'it printed nothing' : `last lines of ${logPath}: ${tail}`}`);
}
