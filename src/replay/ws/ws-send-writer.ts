import { BatchedTableWriter } from '../../store/batched-table-writer.ts';
import { columnIndexes, openChunkAppender, type ChunkAppender, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';

const COLUMNS = {
  run_id: 'i32',
  send_no: 'u32',
  session_id: 'varchar',
  stream: 'varchar',
  seq: 'i64',
  scheduled_ns: 'i64',
  actual_ns: 'i64',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** One frame a WebSocket replay sent. */
export interface WsSend {
  sendNo: number;
  sessionId: string;
  stream: string;
  seq: number;
  scheduledNs: bigint;
  actualNs: bigint;
}

/**
 * Appends a WebSocket replay's frames to `ws_sends`, committed at least every `flushIntervalMs` (what a crash loses).
 * Through a feed, so DuckDB stores them on its own threads: the replay sends on the main thread, and an appender's
 * flush at 204,800 rows (DuckDB's own) held it 72 ms at 10k frames/s, the run's worst lateness.
 */
export class WsSendWriter extends BatchedTableWriter {
  private constructor(store: Store, appender: ChunkAppender, private readonly runId: number, flushIntervalMs: number) {
    super(store, appender, flushIntervalMs);
  }

  static async create(store: Store, runId: number, options: { flushIntervalMs?: number } = {}): Promise<WsSendWriter> {
    return new WsSendWriter(store, await openChunkAppender(store, 'ws_sends', Object.values(COLUMNS)), runId, options.flushIntervalMs ?? 250);
  }

  add(send: WsSend): void {
    const a = this.appender;
    a.setNumber(C.run_id, this.runId);
    a.setNumber(C.send_no, send.sendNo);
    a.setString(C.session_id, send.sessionId);
    a.setString(C.stream, send.stream);
    a.setSafeInteger(C.seq, send.seq);
    a.setBigInt(C.scheduled_ns, send.scheduledNs);
    a.setBigInt(C.actual_ns, send.actualNs);
    a.endRow();
  }
}
