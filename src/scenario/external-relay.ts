import { join } from 'node:path';
import { request } from 'undici';
import type { spawnTracked } from './child-processes.ts';
import { exitedError, hasExited, spawnLogged, waitUntilReady } from './external-process.ts';
import type { ScenarioSpec } from './scenario-spec.ts';
import { udpPortsBound } from './udp-ports-bound.ts';

const PROBE_TIMEOUT_MS = 2_000;

/** Where an external relay's output goes: beside the run's reports, linked from report.html. */
export function relayLogPath(reportsDir: string, runName: string): string {
  return join(reportsDir, runName, 'relay.log');
}

/**
 * Starts an external relay's `command` in the scenario file's directory, its output in `logPath`, and waits until it
 * is ready: its `ready_url` answers; else `ready_after` has passed and, where this machine can see it (Linux, the
 * relay on one of its addresses), the relay has bound every route's UDP port, so that a relay slow to start on a busy
 * machine is not sent the devices' first packets before it listens. A relay that exits before it is ready fails the
 * run with its exit code and the log's last lines.
 */
export async function startExternalRelay(
  relay: Extract<ScenarioSpec['relay'], { kind: 'external' }>,
  where: { cwd: string; logPath: string; ports: readonly number[] },
): Promise<ReturnType<typeof spawnTracked> | undefined> {
  const child = relay.command === undefined ? undefined : spawnLogged(relay.command, where);
  const { readyUrl } = relay;
  if (readyUrl !== undefined) {
    // Each probe bounded: a URL that takes the connection and never answers would hold the poll past its deadline.
    const ready = (): Promise<boolean> => request(readyUrl, { headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS }).then((r) => (r.body.dump(), r.statusCode === 200), () => false);
    await waitUntilReady(child, { what: 'relay', ready, logPath: where.logPath, neverReady: `relay under test never became ready at ${readyUrl}`, pollMs: 200, timeoutMs: relay.readyTimeoutMs });
  } else if (child !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, relay.readyAfterMs));
    if (hasExited(child)) throw exitedError('relay', child.exitCode ?? child.signalCode ?? 'unknown', where.logPath, 'before it was ready');
    // Undefined where the ports cannot be seen: ready_after alone then.
    if (udpPortsBound(relay.address, where.ports) === false) {
      const ports = where.ports.join(',');
      await waitUntilReady(child, { what: 'relay', ready: async () => udpPortsBound(relay.address, where.ports) === true, logPath: where.logPath, neverReady: `relay under test never bound UDP ${relay.address}:${ports}`, pollMs: 20, timeoutMs: relay.readyTimeoutMs });
    }
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

export { relayExitError } from './external-process.ts';
