import { open, readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CaptureFileError } from '../../core/errors.ts';
import { toSafeName } from '../../core/names.ts';
import type { Store } from '../../store/store.ts';
import { createCapture, deleteCapture, finishCapture } from '../capture-catalog.ts';
import { createDecodeStats } from '../decode-stats.ts';
import { readHar } from './har-reader.ts';
import { HttpExchangeWriter } from './http-exchange-writer.ts';

export interface ImportedHar {
  captureId: number;
  name: string;
  file: string;
  exchanges: number;
  /** Exchanges the file recorded only in part (no response, a body left out): kept, and flagged in `missing`. */
  incomplete: number;
  /** Entries with no method or URL: not kept. */
  unusable: number;
  /** Why the file ended early; the complete entries before it are kept and the capture is marked partial. */
  fault: string | null;
}

/** Does this file look like HAR (by its name, or JSON whose first key is `log`)? */
export async function isHarFile(file: string): Promise<boolean> {
  if (extname(file).toLowerCase() === '.har') return true;
  // Only the first bytes: every pcap of an import is sniffed here, and may be gigabytes.
  let handle;
  try {
    handle = await open(file, 'r');
    const head = Buffer.alloc(64);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return /^\s*\{\s*"log"\s*:/.test(head.subarray(0, bytesRead).toString('utf8'));
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/**
 * Imports a HAR 1.2 file as a capture whose rows are HTTP exchanges (`http_exchanges`, with the capture times of the
 * requests). A file cut short keeps every complete entry and the capture is marked partial, naming the byte offset.
 */
export async function importHarFile(store: Store, file: string, options: { name?: string; replace?: boolean } = {}): Promise<ImportedHar> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new CaptureFileError(`${file}: cannot be read (${(cause as Error).message})`, { file }, { cause });
  }
  const read = readHar(file, bytes);
  const name = options.name ?? toSafeName(basename(file, extname(file)));
  if (options.replace === true) await deleteCapture(store, name);
  const captureId = await createCapture(store, name, file);
  const writer = await HttpExchangeWriter.create(store, captureId);
  try {
    for (const exchange of read.exchanges) writer.add(exchange);
  } finally {
    writer.close();
  }
  const times = read.exchanges.map((e) => e.tsNs).filter((ns) => ns > 0n);
  await finishCapture(store, captureId, {
    format: 'har',
    stats: { ...createDecodeStats(), frames: read.exchanges.length + read.unusable },
    keptDatagrams: 0,
    firstTsNs: times.length === 0 ? undefined : times.reduce((a, b) => (b < a ? b : a)),
    lastTsNs: times.length === 0 ? undefined : times.reduce((a, b) => (b > a ? b : a)),
    error: read.fault ?? undefined,
    routePorts: [],
  });
  return { captureId, name, file, exchanges: read.exchanges.length, incomplete: read.exchanges.filter((e) => e.missing.length > 0).length, unusable: read.unusable, fault: read.fault };
}
