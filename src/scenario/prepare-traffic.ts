import { deleteCapture, type CaptureSummary } from '../capture/capture-catalog.ts';
import { ConfigError } from '../core/errors.ts';
import { importCaptures } from '../capture/import-capture.ts';
import { DEFAULT_FLEET } from '../synthetic/synthetic-fleet.ts';
import { writeFleetCapture } from '../synthetic/write-fleet-capture.ts';
import type { Store } from '../store/store.ts';
import { generatedCapture, namedCapture } from './scenario-capture.ts';
import type { ScenarioSpec } from './scenario-spec.ts';

/**
 * The capture a scenario replays: a capture already in the store, a capture file (imported once, under its file
 * name), or a fleet generated for the scenario.
 */
export async function prepareTraffic(store: Store, spec: ScenarioSpec, baseDir: string): Promise<CaptureSummary> {
  const traffic = spec.traffic;
  const importFile = (file: string, name: string): Promise<void> => importOrFail(store, file, name);
  if (!('generate' in traffic)) return namedCapture(store, traffic.capture, baseDir, importFile);
  const { devices, durationMs, intervalMs, seed } = traffic.generate;
  const write = (file: string): void => void writeFleetCapture(file, { ...DEFAULT_FLEET, protocol: spec.protocol, devices, durationSec: durationMs / 1000, reportIntervalSec: intervalMs / 1000, seed }, 'pcap');
  return generatedCapture(store, `${spec.name}-generated-${devices}x${durationMs / 1000}s-${seed}`, '.pcap', write, importFile);
}

/** A scenario's capture file must import whole: a run on a file cut short would validate less than it says. */
async function importOrFail(store: Store, file: string, name: string): Promise<void> {
  const result = await importCaptures(store, { files: [file], name });
  const [error] = result.errors;
  if (error === undefined) return;
  if (result.captures.length > 0) await deleteCapture(store, name);
  throw new ConfigError(`traffic.capture: ${error.message}`, { file, field: 'traffic.capture' });
}
