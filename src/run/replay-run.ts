import { RelayPoller } from '../observe/relay-poller.ts';
import { prepareReplay, sendReplay, type ReplayOptions, type ReplayResult } from '../replay/replayer.ts';
import type { RunTopology } from '../store/run-metadata.ts';
import { nextRunName } from '../store/runs.ts';
import { RunSession } from './run-session.ts';

export interface ReplayRunOptions extends ReplayOptions {
  runName?: string;
  /** A run made beforehand (whose observers already record into it): taken over instead of creating one. */
  existingRun?: { runId: number; name: string };
  /** Stored with the run: relay, backends and how legs are observed; route labels. */
  topology?: RunTopology;
  /** A threshold config. */
  thresholds?: object;
  /** Base URL of the relay's /debug/* and /metrics: polled during the run for its self-report. */
  relayDebugUrl?: string;
}

/**
 * `parity replay` as a run: check and bind (no run yet) -> create the run -> start the relay poller -> send -> stop
 * the poller -> finish the run. A failure at any step stops what was started and leaves the run failed.
 */
export async function replayCapture(options: ReplayRunOptions): Promise<ReplayResult> {
  const { store } = options;
  const prepared = await prepareReplay(options);
  let session: RunSession;
  try {
    const fields = {
      captureId: prepared.capture.captureId,
      protocol: options.protocol.name,
      relay: options.relayHost,
      plan: prepared.plan,
      topology: options.topology,
      thresholds: options.thresholds,
    };
    session =
      options.existingRun !== undefined
        ? await RunSession.adopt(store, options.existingRun, fields)
        : await RunSession.create(store, { name: options.runName ?? (await nextRunName(store, `${prepared.capture.name}-replay`)), kind: 'replay', ...fields });
  } catch (error) {
    await prepared.close();
    throw error;
  }
  session.defer('device sockets', () => prepared.close());
  try {
    if (options.relayDebugUrl !== undefined) {
      const poller = new RelayPoller(store, session.runId, options.relayDebugUrl);
      await poller.start();
      session.defer('relay poller', () => poller.stop());
    }
    const outcome = await sendReplay(prepared, session.runId);
    await session.finish(outcome.status, outcome.stats, outcome.startNs);
    return { runId: session.runId, runName: session.name, status: outcome.status, stats: outcome.stats };
  } catch (error) {
    return session.fail(error);
  }
}
