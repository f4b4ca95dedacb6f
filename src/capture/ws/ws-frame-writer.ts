import { ChunkAppender, columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';
import type { RecordedFrame } from './frame-recording.ts';

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

/** Appends a capture's telemetry frames (from a recording, or read out of WebSocket sessions in TCP) to `ws_frames`, numbered in order. */
export class WsFrameWriter {
  count = 0;

  private constructor(
    private readonly rows: ChunkAppender,
    private readonly captureId: number,
  ) {}

  static async create(store: Store, captureId: number): Promise<WsFrameWriter> {
    const { appender, release } = await store.createWriterAppender('ws_frames');
    return new WsFrameWriter(new ChunkAppender(appender, 'ws_frames', Object.values(COLUMNS), release), captureId);
  }

  add(frame: RecordedFrame): void {
    const rows = this.rows;
    rows.setNumber(C.capture_id, this.captureId);
    rows.setNumber(C.idx, this.count++);
    rows.setBigInt(C.ts_ns, frame.tsNs);
    rows.setString(C.session_id, frame.sessionId);
    rows.setString(C.stream, frame.stream);
    rows.setSafeInteger(C.seq, frame.seq);
    rows.setString(C.frame, frame.text);
    rows.endRow();
  }

  close(): void {
    this.rows.close();
  }
}
