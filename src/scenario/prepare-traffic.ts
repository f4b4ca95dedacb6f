import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { captureExists, deleteCapture, getCapture, type CaptureSummary } from '../capture/capture-catalog.ts';
import { ConfigError } from '../core/errors.ts';
import { toSafeName } from '../core/names.ts';
import { importCaptures } from '../capture/import-capture.ts';
import { DEFAULT_FLEET } from '../synthetic/synthetic-fleet.ts';
import { writeFleetCapture } from '../synthetic/write-fleet-capture.ts';
import type { Store } from '../store/store.ts';
import type { ScenarioSpec } from './scenario-spec.ts';

/**
 * The capture a scenario replays: a capture already in the store, a capture file (imported once, under its file
 * name), or a fleet generated for the scenario.
 */
export async function prepareTraffic(store: Store, spec: ScenarioSpec, baseDir: string): Promise<CaptureSummary> {
  const traffic = spec.traffic;
  if ('generate' in traffic) {
    const { devices, durationMs, intervalMs, seed } = traffic.generate;
    const name = `${spec.name}-generated-${devices}x${durationMs / 1000}s-${seed}`;
    if (!(await captureExists(store, name))) {
      const file = join(tmpdir(), `${name}-${process.pid}.pcap`);
      try {
        writeFleetCapture(file, { ...DEFAULT_FLEET, protocol: spec.protocol, devices, durationSec: durationMs / 1000, reportIntervalSec: intervalMs / 1000, seed }, 'pcap');
        await importOrFail(store, file, name);
      } finally {
        rmSync(file, { force: true });
      }
    }
    return getCapture(store, name);
  }
  const file = [traffic.capture, join(baseDir, traffic.capture)].find((candidate) => existsSync(candidate));
  if (file === undefined) return getCapture(store, traffic.capture);
  const name = toSafeName(basename(file, extname(file)));
  if (!(await captureExists(store, name))) await importOrFail(store, file, name);
  return getCapture(store, name);
}

/** A scenario's capture file must import whole: a run on a file cut short would validate less than it says. */
async function importOrFail(store: Store, file: string, name: string): Promise<void> {
  const result = await importCaptures(store, { files: [file], name });
  const [error] = result.errors;
  if (error === undefined) return;
  if (result.captures.length > 0) await deleteCapture(store, name);
  throw new ConfigError(`traffic.capture: ${error.message}`, { file, field: 'traffic.capture' });
}
