import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CaptureFileError } from '../../core/errors.ts';
import { toSafeName } from '../../core/names.ts';
import { ChunkAppender, columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';
import { createCapture, deleteCapture, finishCapture } from '../capture-catalog.ts';
import { createDecodeStats } from '../decode-stats.ts';
import { readFrameRecording } from './frame-recording.ts';

const COLUMNS = {
  capture_id: 'i32',
  idx: 'u32',
  ts_ns: 'i64',
  session_id: 'varchar',
  stream: 'varchar',
  seq: 'i64',
  frame: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

export interface ImportedFrames {
  captureId: number;
  name: string;
  file: string;
  frames: number;
  sessions: number;
  streams: number;
  /** Why the file ended early; the complete frames before it are kept and the capture is marked partial. */
  fault: string | null;
}

/** Imports a newline-delimited JSON recording of telemetry frames as a capture (`ws_frames`). */
export async function importFrameRecording(store: Store, file: string, options: { name?: string; replace?: boolean } = {}): Promise<ImportedFrames> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new CaptureFileError(`${file}: cannot be read (${(cause as Error).message})`, { file }, { cause });
  }
  const read = readFrameRecording(file, bytes);
  const name = options.name ?? toSafeName(basename(file, extname(file)));
  if (options.replace === true) await deleteCapture(store, name);
  const captureId = await createCapture(store, name, file);
  const { appender, release } = await store.createWriterAppender('ws_frames');
  const rows = new ChunkAppender(appender, 'ws_frames', Object.values(COLUMNS), release);
  try {
    read.frames.forEach((frame, idx) => {
      rows.setNumber(C.capture_id, captureId);
      rows.setNumber(C.idx, idx);
      rows.setBigInt(C.ts_ns, frame.tsNs);
      rows.setString(C.session_id, frame.sessionId);
      rows.setString(C.stream, frame.stream);
      rows.setSafeInteger(C.seq, frame.seq);
      rows.setString(C.frame, frame.text);
      rows.endRow();
    });
  } finally {
    rows.close();
  }
  const times = read.frames.map((f) => f.tsNs).filter((ns) => ns > 0n);
  await finishCapture(store, captureId, {
    format: 'ndjson',
    stats: { ...createDecodeStats(), frames: read.frames.length },
    keptDatagrams: 0,
    firstTsNs: times.length === 0 ? undefined : times.reduce((a, b) => (b < a ? b : a)),
    lastTsNs: times.length === 0 ? undefined : times.reduce((a, b) => (b > a ? b : a)),
    error: read.fault ?? undefined,
    routePorts: [],
  });
  const sessions = new Set(read.frames.map((f) => f.sessionId)).size;
  const streams = new Set(read.frames.map((f) => `${f.sessionId}/${f.stream}`)).size;
  return { captureId, name, file, frames: read.frames.length, sessions, streams, fault: read.fault };
}
