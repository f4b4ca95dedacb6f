import { deleteCapture, type CaptureSummary } from '../../capture/capture-catalog.ts';
import { importHarFile } from '../../capture/http/import-har.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Store } from '../../store/store.ts';
import { writeHttpTraffic } from '../../synthetic/http-traffic.ts';
import { generatedCapture, namedCapture } from '../scenario-capture.ts';
import type { HttpScenarioSpec } from './http-scenario-spec.ts';

/** The capture an HTTP scenario replays: a HAR file (imported once, under its file name), or generated traffic. */
export async function prepareHttpTraffic(store: Store, spec: HttpScenarioSpec, baseDir: string): Promise<CaptureSummary> {
  const traffic = spec.traffic;
  const importFile = (file: string, name: string): Promise<void> => importOrFail(store, file, name);
  if (!('generate' in traffic)) return namedCapture(store, traffic.har, baseDir, importFile);
  const { requests, meanGapMs, seed } = traffic.generate;
  return generatedCapture(store, `${spec.name}-generated-${requests}x${meanGapMs}ms-${seed}`, '.har', (file: string) => writeHttpTraffic(file, traffic.generate), importFile);
}

/** A scenario's HAR file must import whole: a run on a file cut short would validate less than it says. */
async function importOrFail(store: Store, file: string, name: string): Promise<void> {
  const imported = await importHarFile(store, file, { name });
  if (imported.fault === null) return;
  await deleteCapture(store, name);
  throw new ConfigError(`traffic.har: ${imported.fault}`, { file, field: 'traffic.har' });
}
