import { basename, extname } from 'node:path';
import { stat } from 'node:fs/promises';
import { CaptureFormatError, isParityError, UsageError, type ParityError } from '../core/errors.ts';
import { toSafeName } from '../core/names.ts';
import { createProgress } from '../core/progress.ts';
import { CapturePacketWriter } from '../store/capture-packet-writer.ts';
import type { Store } from '../store/store.ts';
import { createCapture, deleteCapture, finishCapture } from './capture-catalog.ts';
import { withCaptureFlows } from './capture-flows.ts';
import { droppedInAll, type CaptureDrops } from './pcapng-reader.ts';
import { readCaptureFile } from './capture-reader.ts';
import { resolveRelayLegs, type RelayLegs } from './relay-legs.ts';
import type { DecodeStats } from './decode-stats.ts';
import { FrameDecoder } from './frame-decoder.ts';
import { HttpExchangeWriter } from './http/http-exchange-writer.ts';
import { HttpFromTcp, type TcpHttpSummary } from './http/http-from-tcp.ts';
import { PgFromTcp, type TcpPgSummary } from './pg/pg-from-tcp.ts';
import { PgStatementWriter } from './pg/pg-statement-writer.ts';
import { WsFrameWriter } from './ws/ws-frame-writer.ts';
import { WsFromTcp, type TcpWsSummary } from './ws/ws-from-tcp.ts';

/**
 * DuckDB's buffer pool is capped for the whole import (appending, the checkpoint, the capture's summary queries): it
 * would otherwise keep every page written or scanned, and memory would grow with the size of the capture (measured:
 * 295 MB at 1M packets, 375 MB at 3M; capped: 273 MB and 305 MB, and faster; at 85M packets, a 10 GB file, the
 * summary queries alone took the peak from 0.4 GB to 1.1 GB uncapped).
 */
const IMPORT_MEMORY_LIMIT_BYTES = 64 * 2 ** 20;
const IMPORT_COMMIT_INTERVAL_MS = 2000;

export interface ImportOptions {
  files: readonly string[];
  /** One capture made of all the files, in order; else one capture per file, named after it. */
  name?: string;
  /** Keep only datagrams from or to these ports; they are also the capture's route ports. */
  ports?: readonly number[];
  /** Replace a capture of the same name instead of refusing. */
  replace?: boolean;
  /** The relay's addresses, for a capture taken on its host: only what reaches them is device uplink. */
  relayAddrs?: readonly string[];
}

export interface ImportedCapture {
  captureId: number;
  name: string;
  files: string[];
  format: string;
  stats: DecodeStats;
  keptDatagrams: number;
  routePorts: number[];
  /** The fault that stopped a file early; the capture keeps every frame before it and is marked partial. */
  error: ParityError | undefined;
  /** The relay's legs found in it (a capture taken on the relay's host), undefined for plain device traffic. */
  legs: RelayLegs | undefined;
  /** HTTP/1.x exchanges read out of its TCP. */
  httpExchanges: number;
  /** Telemetry frames read out of its WebSocket sessions. */
  wsFrames: number;
  /** PostgreSQL statements read out of its sessions. */
  pgStatements: number;
}

export interface ImportResult {
  captures: ImportedCapture[];
  /** Every fault met, in file order: files that could not be read at all, and files cut short. */
  errors: ParityError[];
}

/**
 * Imports capture files into the store. A file that cannot be opened or is not a capture is reported and skipped;
 * a file cut short keeps its complete frames and marks its capture partial. Other files are imported either way.
 */
export async function importCaptures(store: Store, options: ImportOptions): Promise<ImportResult> {
  const groups = groupFiles(options);
  const result: ImportResult = { captures: [], errors: [] };
  await store.withMemoryLimit(IMPORT_MEMORY_LIMIT_BYTES, async () => {
    for (const { name, files } of groups) {
      const imported = await importGroup(store, name, files, options);
      result.errors.push(...imported.errors);
      if (imported.capture !== undefined) result.captures.push(imported.capture);
    }
    // A bulk load writes its rows to the file, not the WAL: they become part of the table at the next checkpoint, run
    // here under the cap with the captures' summaries. Left to the store's close, it ran under the store's own limit
    // and kept every page it touched (peak RSS 2.2 GB at 85M packets against 0.4 GB while reading; 1.3 GB at 40M).
    await store.exec('CHECKPOINT');
  });
  return result;
}

function groupFiles({ files, name }: ImportOptions): { name: string; files: string[] }[] {
  if (files.length === 0) throw new UsageError('import needs at least one capture file');
  if (name !== undefined) return [{ name, files: [...files] }];
  return files.map((file) => ({ name: toSafeName(basename(file, extname(file))), files: [file] }));
}

async function importGroup(
  store: Store,
  name: string,
  files: string[],
  options: ImportOptions,
): Promise<{ capture?: ImportedCapture; errors: ParityError[] }> {
  if (options.replace === true) await deleteCapture(store, name);
  const captureId = await createCapture(store, name, files.join(','), options.ports ?? []);
  // A file can be read again: commits every 2 s keep what a killed import read without costing the import its pace
  // (every 250 ms, as a recording needs, cost a sixth of the import rate).
  const writer = await CapturePacketWriter.create(store, captureId, { flushIntervalMs: IMPORT_COMMIT_INTERVAL_MS });
  // HTTP in the same files (the HTTP family): TCP put back together and read as HTTP/1.x, beside the UDP.
  // And WebSocket sessions, once HTTP has upgraded them (the WebSocket family).
  const exchanges = await HttpExchangeWriter.create(store, captureId);
  const frames = await WsFrameWriter.create(store, captureId);
  const ws = new WsFromTcp((frame) => frames.add(frame));
  // And PostgreSQL sessions (the Postgres family), which open with their own startup packet.
  const statements = await PgStatementWriter.create(store, captureId);
  const pg = new PgFromTcp((statement, session) => statements.add(statement, session));
  const http = new HttpFromTcp((exchange) => exchanges.add(exchange), ws.read, pg.read);
  const decoder = new FrameDecoder((datagram) => writer.add(datagram), { ports: new Set(options.ports ?? []), onTcpSegment: (segment) => http.add(segment) });
  let httpRead: TcpHttpSummary;
  let wsRead: TcpWsSummary;
  let pgRead: TcpPgSummary;
  let read: Awaited<ReturnType<typeof readFilesInto>>;
  try {
    read = await readFilesInto(decoder, files, () => writer.ready());
  } finally {
    decoder.finish();
    // Connections still open at the capture's end give their last exchanges and frames before the writers close.
    httpRead = http.finish();
    wsRead = await ws.finish();
    pgRead = pg.finish();
    exchanges.close();
    frames.close();
    statements.close();
    await writer.close();
  }
  if (read.files.length === 0 && writer.rows === 0 && exchanges.count === 0 && frames.count === 0 && statements.count === 0) {
    await deleteCapture(store, name);
    return { errors: read.errors };
  }
  const stats = decoder.stats;
  if (httpRead.connections > 0) stats.http = { connections: httpRead.httpConnections, exchanges: exchanges.count, damaged: httpRead.damaged, faults: httpRead.faults };
  if (wsRead.sessions > 0) stats.ws = { ...wsRead, faults: [...wsRead.faults] };
  if (pgRead.sessions > 0) stats.pg = { ...pgRead, faults: [...pgRead.faults] };
  const damage = read.errors.length === 0 ? (httpDamage(files, httpRead, writer.rows) ?? wsDamage(files, wsRead, writer.rows) ?? pgDamage(files, pgRead, writer.rows)) : undefined;
  if (damage !== undefined) read.errors.push(damage);
  const firstError = read.errors[0];
  const format = [...read.formats].join(',');
  const { routePorts, legs } = await withCaptureFlows(store, captureId, async (flows) => {
    const ports = await finishCapture(store, captureId, {
      format: format || 'unknown',
      stats,
      keptDatagrams: writer.rows,
      firstTsNs: writer.firstTsNs,
      lastTsNs: writer.lastTsNs,
      error: firstError?.message,
      routePorts: options.ports,
    }, flows);
    try {
      return { routePorts: ports, legs: await resolveRelayLegs(store, flows, ports, options.relayAddrs) };
    } catch (error) {
      // A --relay-addr that matches nothing: no capture is left behind that would replay the wrong leg.
      await deleteCapture(store, name);
      throw error;
    }
  });
  const capture = { captureId, name, files: read.files, format, stats, keptDatagrams: writer.rows, httpExchanges: exchanges.count, wsFrames: frames.count, pgStatements: statements.count, routePorts, error: firstError, legs };
  return { capture, errors: read.errors };
}

/**
 * A capture of HTTP whose TCP was damaged keeps every complete exchange and is flagged partial, naming the first
 * damage; in a capture of UDP traffic, HTTP on the side is counted in its stats and does not flag the capture.
 */
function httpDamage(files: readonly string[], http: TcpHttpSummary, datagrams: number): ParityError | undefined {
  if (http.damaged === 0 || datagrams > 0) return undefined;
  const more = http.damaged > 1 ? ` (and ${http.damaged - 1} more connection${http.damaged > 2 ? 's' : ''})` : '';
  const file = files.join(', ');
  return new CaptureFormatError(`${file}: ${http.faults[0] ?? 'an HTTP connection was damaged'}${more}; every complete exchange is kept`, { file });
}

/** The same for WebSocket sessions: every message complete before the damage is kept. */
function wsDamage(files: readonly string[], ws: TcpWsSummary, datagrams: number): ParityError | undefined {
  if (ws.damaged === 0 || datagrams > 0) return undefined;
  const more = ws.damaged > 1 ? ` (and ${ws.damaged - 1} more session${ws.damaged > 2 ? 's' : ''})` : '';
  const file = files.join(', ');
  return new CaptureFormatError(`${file}: ${ws.faults[0] ?? 'a WebSocket session was damaged'}${more}; every complete frame is kept`, { file });
}

/** The same for PostgreSQL sessions: every statement answered before the damage is kept. */
function pgDamage(files: readonly string[], pg: TcpPgSummary, datagrams: number): ParityError | undefined {
  if (pg.damaged === 0 || datagrams > 0) return undefined;
  const more = pg.damaged > 1 ? ` (and ${pg.damaged - 1} more session${pg.damaged > 2 ? 's' : ''})` : '';
  const file = files.join(', ');
  return new CaptureFormatError(`${file}: ${pg.faults[0] ?? 'a PostgreSQL session was damaged'}${more}; every statement before it is kept`, { file });
}

interface FilesRead {
  formats: Set<string>;
  /** Files that gave at least one frame. */
  files: string[];
  errors: ParityError[];
}

/** Reads each file through the decoder in turn; a fault ends that file only. */
async function readFilesInto(decoder: FrameDecoder, files: readonly string[], beforeRead: () => Promise<void>): Promise<FilesRead> {
  const read: FilesRead = { formats: new Set(), files: [], errors: [] };
  for (const file of files) {
    const progress = createProgress(`import ${basename(file)}`);
    const totalBytes = await stat(file).then((s) => s.size, () => 0);
    const framesBefore = decoder.stats.frames;
    let readBytes = 0;
    const onRead = (bytes: number): void => {
      readBytes += bytes;
      progress.update(readBytes, totalBytes, `${decoder.stats.frames.toLocaleString('en-US')} frames`);
    };
    const drops: CaptureDrops = new Map();
    try {
      // The writer copies each datagram's payload, and the decoder each TCP segment's: the reader's buffers are reused.
      read.formats.add(await readCaptureFile(file, (frame) => decoder.decode(frame), { onRead, beforeRead, reuseBuffers: true, drops }));
      read.files.push(file);
      const dropped = droppedInAll(drops);
      if (dropped !== null) decoder.stats.captureDrops = (decoder.stats.captureDrops ?? 0) + dropped;
    } catch (error) {
      if (!isParityError(error)) throw error;
      read.errors.push(error);
      if (decoder.stats.frames > framesBefore) read.files.push(file);
    } finally {
      progress.done();
    }
  }
  return read;
}
