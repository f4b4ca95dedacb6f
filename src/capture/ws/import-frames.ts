import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { CaptureFileError } from '../../core/errors.ts';
import { toSafeName } from '../../core/names.ts';
import type { Store } from '../../store/store.ts';
import { createCapture, deleteCapture, finishCapture } from '../capture-catalog.ts';
import { createDecodeStats } from '../decode-stats.ts';
import { readFrameRecording } from './frame-recording.ts';
import { WsFrameWriter } from './ws-frame-writer.ts';

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
  const rows = await WsFrameWriter.create(store, captureId);
  try {
    for (const frame of read.frames) rows.add(frame);
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
