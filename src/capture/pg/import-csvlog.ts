import { open, readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CaptureFileError } from '../../core/errors.ts';
import { toSafeName } from '../../core/names.ts';
import type { Store } from '../../store/store.ts';
import { createCapture, deleteCapture, finishCapture } from '../capture-catalog.ts';
import { createDecodeStats } from '../decode-stats.ts';
import { isPgCsvlog, readPgCsvlog } from './pg-csvlog.ts';
import { PgStatementWriter } from './pg-statement-writer.ts';

export interface ImportedCsvlog {
  captureId: number;
  name: string;
  file: string;
  statements: number;
  sessions: number;
  fault: string | null;
}

/** Imports PostgreSQL's csvlog (every statement logged) as a capture of statements (`pg_statements`). */
export async function importPgCsvlog(store: Store, file: string, options: { name?: string; replace?: boolean } = {}): Promise<ImportedCsvlog> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new CaptureFileError(`${file}: cannot be read (${(cause as Error).message})`, { file }, { cause });
  }
  const read = readPgCsvlog(file, text);
  const name = options.name ?? toSafeName(basename(file, extname(file)));
  if (options.replace === true) await deleteCapture(store, name);
  const captureId = await createCapture(store, name, file);
  const rows = await PgStatementWriter.create(store, captureId);
  try {
    for (const { statement, session } of read.statements) rows.add(statement, session);
  } finally {
    rows.close();
  }
  const times = read.statements.map((s) => s.statement.tsNs).filter((ns) => ns > 0n);
  await finishCapture(store, captureId, {
    format: 'pg-csvlog',
    stats: { ...createDecodeStats(), frames: read.statements.length },
    keptDatagrams: 0,
    firstTsNs: times.length === 0 ? undefined : times.reduce((a, b) => (b < a ? b : a)),
    lastTsNs: times.length === 0 ? undefined : times.reduce((a, b) => (b > a ? b : a)),
    error: read.fault ?? undefined,
    routePorts: [],
  });
  return { captureId, name, file, statements: read.statements.length, sessions: new Set(read.statements.map((s) => s.session.client)).size, fault: read.fault };
}

/** Is this file PostgreSQL's csvlog? Its name and its first bytes say (a capture of gigabytes is not read for this). */
export async function isPgCsvlogFile(file: string): Promise<boolean> {
  if (!/\.csv$/i.test(file)) return false;
  let handle;
  try {
    handle = await open(file, 'r');
    const head = Buffer.alloc(64);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return isPgCsvlog(file, head.subarray(0, bytesRead).toString('utf8'));
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}
