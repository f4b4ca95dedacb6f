import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { captureExists, getCapture, type CaptureSummary } from '../capture/capture-catalog.ts';
import { toSafeName } from '../core/names.ts';
import type { Store } from '../store/store.ts';

/** Imports one file as a capture of that name; a file that does not import whole is refused (a ConfigError). */
export type CaptureImporter = (file: string, name: string) => Promise<void>;

/**
 * A capture generated for a scenario, made once under a name that says what it holds: written to a temporary file,
 * imported, and the file removed. Every family's scenarios generate their traffic this way.
 */
export async function generatedCapture(store: Store, name: string, extension: string, write: (file: string) => void, importFile: CaptureImporter): Promise<CaptureSummary> {
  if (!(await captureExists(store, name))) {
    const file = join(tmpdir(), `${name}-${process.pid}${extension}`);
    try {
      write(file);
      await importFile(file, name);
    } finally {
      rmSync(file, { force: true });
    }
  }
  return getCapture(store, name);
}

/**
 * The capture a scenario names: a file (beside the scenario or as given; imported once, under its file name), else a
 * capture already in the store under that name.
 */
export async function namedCapture(store: Store, given: string, baseDir: string, importFile: CaptureImporter): Promise<CaptureSummary> {
  const file = [given, join(baseDir, given)].find((candidate) => existsSync(candidate));
  if (file === undefined) return getCapture(store, given);
  const name = toSafeName(basename(file, extname(file)));
  if (!(await captureExists(store, name))) await importFile(file, name);
  return getCapture(store, name);
}
