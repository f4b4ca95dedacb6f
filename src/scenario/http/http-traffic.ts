import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { captureExists, deleteCapture, getCapture, type CaptureSummary } from '../../capture/capture-catalog.ts';
import { importHarFile } from '../../capture/http/import-har.ts';
import { ConfigError } from '../../core/errors.ts';
import { toSafeName } from '../../core/names.ts';
import type { Store } from '../../store/store.ts';
import { writeHttpTraffic } from '../../synthetic/http-traffic.ts';
import type { HttpScenarioSpec } from './http-scenario-spec.ts';

/** The capture an HTTP scenario replays: a HAR file (imported once, under its file name), or generated traffic. */
export async function prepareHttpTraffic(store: Store, spec: HttpScenarioSpec, baseDir: string): Promise<CaptureSummary> {
  const traffic = spec.traffic;
  if ('generate' in traffic) {
    const { requests, meanGapMs, seed } = traffic.generate;
    const name = `${spec.name}-generated-${requests}x${meanGapMs}ms-${seed}`;
    if (!(await captureExists(store, name))) {
      const file = join(tmpdir(), `${name}-${process.pid}.har`);
      try {
        writeHttpTraffic(file, traffic.generate);
        await importOrFail(store, file, name);
      } finally {
        rmSync(file, { force: true });
      }
    }
    return getCapture(store, name);
  }
  const file = [traffic.har, join(baseDir, traffic.har)].find((candidate) => existsSync(candidate));
  if (file === undefined) return getCapture(store, traffic.har);
  const name = toSafeName(basename(file, extname(file)));
  if (!(await captureExists(store, name))) await importOrFail(store, file, name);
  return getCapture(store, name);
}

/** A scenario's HAR file must import whole: a run on a file cut short would validate less than it says. */
async function importOrFail(store: Store, file: string, name: string): Promise<void> {
  const imported = await importHarFile(store, file, { name });
  if (imported.fault === null) return;
  await deleteCapture(store, name);
  throw new ConfigError(`traffic.har: ${imported.fault}`, { file, field: 'traffic.har' });
}
