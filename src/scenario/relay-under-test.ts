import type { JsonObject } from '../core/json.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { reapDirWithThisProcess, releaseDir } from '../core/process-reaper.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaptureSummary } from '../capture/capture-catalog.ts';
import type { RunSession } from '../run/run-session.ts';
import { stopTracked } from './child-processes.ts';
import { relayExitError, relayLogPath, startExternalRelay, watchExternalRelay } from './external-relay.ts';
import { RelayProcess } from './relay-process.ts';
import { relayRoutes, type Addresses } from './scenario-addresses.ts';
import type { ScenarioSpec } from './scenario-spec.ts';

/** The relay a scenario runs through, once started: the reference relay as a subprocess, or an external one. */
export interface RelayUnderTest {
  /** Base URL of its /debug/* and /metrics, when it has one. */
  debugUrl: string | undefined;
  /** Reloads the reference relay's routes (a timeline's `reload`); absent for an external relay. */
  reload: ((globals: JsonObject) => Promise<void>) | undefined;
  /** Throws when the relay exited while the run went on: a relay that died proved nothing after its death. */
  throwIfExited(): void;
}

/**
 * Starts the scenario's relay and registers its stop with the session. An external relay that exits during the run
 * aborts the replay through `abortReplay`, and the run fails with its exit code and its log's last lines.
 */
export async function startRelayUnderTest(
  session: RunSession,
  spec: ScenarioSpec,
  where: { addresses: Addresses; capture: CaptureSummary; baseDir: string; reportsDir: string; abortReplay: () => void },
): Promise<RelayUnderTest> {
  const { addresses } = where;
  if (spec.relay.kind === 'builtin') {
    const dir = mkdtempSync(join(tmpdir(), `parity-${spec.name}-`));
    reapDirWithThisProcess(dir);
    session.defer('relay files', () => {
      rmSync(dir, { recursive: true, force: true });
      releaseDir(dir);
    });
    const relay = await RelayProcess.start(dir, { address: addresses.relay, responseTimeoutMs: spec.relay.responseTimeoutMs, routes: relayRoutes(spec, addresses, where.capture.routePorts) });
    session.defer('reference relay', () => relay.stop());
    return { debugUrl: relay.debugUrl, reload: (globals) => relay.reload(globals), throwIfExited: () => undefined };
  }
  const logPath = relayLogPath(where.reportsDir, session.name);
  const external = await startExternalRelay(spec.relay, { cwd: where.baseDir, logPath, ports: where.capture.routePorts });
  let exitCode: number | string | undefined;
  const unwatch = watchExternalRelay(external, (code) => {
    exitCode = code;
    where.abortReplay();
  });
  session.defer('relay under test', async () => {
    // Stopped by us, so its exit is not the relay dying under the run.
    unwatch();
    if (external !== undefined) await stopTracked(external);
  });
  return {
    debugUrl: spec.relay.debugUrl,
    reload: undefined,
    throwIfExited: () => {
      if (exitCode !== undefined) throw relayExitError(exitCode, logPath);
    },
  };
}
