import { columnIndexes, openChunkAppender, type ChunkAppender, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';
import type { ReceivedFrame } from './gateway.ts';

const COLUMNS = {
  run_id: 'i32',
  gateway: 'varchar',
  session_id: 'varchar',
  stream: 'varchar',
  seq: 'i64',
  received_ns: 'i64',
  ack_requested: 'bool',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** Appends the frames gateways processed to `ws_receipts`, committed when closed. */
export class WsReceiptWriter {
  private constructor(
    private readonly rows: ChunkAppender,
    private readonly runId: number,
  ) {}

  static async create(store: Store, runId: number): Promise<WsReceiptWriter> {
    // DuckDB's threads store the rows: what records them answers traffic on this thread.
    return new WsReceiptWriter(await openChunkAppender(store, 'ws_receipts', Object.values(COLUMNS)), runId);
  }

  recorderFor(gateway: string): (frame: ReceivedFrame) => void {
    return (frame) => {
      const r = this.rows;
      r.setNumber(C.run_id, this.runId);
      r.setString(C.gateway, gateway);
      r.setString(C.session_id, frame.sessionId);
      r.setString(C.stream, frame.stream);
      r.setSafeInteger(C.seq, frame.seq);
      r.setBigInt(C.received_ns, frame.receivedNs);
      r.setBoolean(C.ack_requested, frame.acked);
      r.endRow();
    };
  }

  /** Commits every row and closes (waits for DuckDB to store them). */
  async close(): Promise<void> {
    await this.rows.finish();
  }
}
