import { open, readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CaptureFileError } from '../../core/errors.ts';
import { toSafeName } from '../../core/names.ts';
import { ChunkAppender, columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';
import { createCapture, deleteCapture, finishCapture } from '../capture-catalog.ts';
import { createDecodeStats } from '../decode-stats.ts';
import { readHar, type HttpExchange } from './har-reader.ts';

const COLUMNS = {
  capture_id: 'i32',
  idx: 'u32',
  ts_ns: 'i64',
  method: 'varchar',
  url: 'varchar',
  http_version: 'varchar',
  request_headers: 'varchar',
  request_body: 'blob',
  status: 'i32',
  response_headers: 'varchar',
  response_body: 'blob',
  duration_ms: 'f64',
  missing: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

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
  const { appender, release } = await store.createWriterAppender('http_exchanges');
  const rows = new ChunkAppender(appender, 'http_exchanges', Object.values(COLUMNS), release);
  try {
    read.exchanges.forEach((exchange, idx) => appendExchange(rows, captureId, idx, exchange));
  } finally {
    rows.close();
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

function appendExchange(rows: ChunkAppender, captureId: number, idx: number, e: HttpExchange): void {
  rows.setNumber(C.capture_id, captureId);
  rows.setNumber(C.idx, idx);
  rows.setBigInt(C.ts_ns, e.tsNs);
  rows.setString(C.method, e.method);
  rows.setString(C.url, e.url);
  if (e.httpVersion === null) rows.setNull(C.http_version);
  else rows.setString(C.http_version, e.httpVersion);
  rows.setString(C.request_headers, JSON.stringify(e.requestHeaders));
  if (e.requestBody === null) rows.setNull(C.request_body);
  else rows.setBytes(C.request_body, e.requestBody);
  if (e.status === null) rows.setNull(C.status);
  else rows.setNumber(C.status, e.status);
  rows.setString(C.response_headers, JSON.stringify(e.responseHeaders));
  if (e.responseBody === null) rows.setNull(C.response_body);
  else rows.setBytes(C.response_body, e.responseBody);
  if (e.durationMs === null) rows.setNull(C.duration_ms);
  else rows.setNumber(C.duration_ms, e.durationMs);
  if (e.missing.length === 0) rows.setNull(C.missing);
  else rows.setString(C.missing, e.missing.join(','));
  rows.endRow();
}
