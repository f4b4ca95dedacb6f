import { openChunkAppender, type ChunkAppender, type ColumnKind } from './chunk-appender.ts';
import type { Store } from './store.ts';

/** Fills one row of a receipts table (every column but none of `endRow`) for what `source` was seen to receive. */
export type ReceiptRow<Seen extends unknown[]> = (rows: ChunkAppender, runId: number, source: string, ...seen: Seen) => void;

/**
 * A run's record of what its backends, gateways or databases received (`http_receipts`, `ws_receipts`,
 * `pg_receipts`): each peer is handed a recorder for its own name, the rows are stored on DuckDB's threads (what
 * records them answers traffic on this thread) and committed when closed. A family gives its columns and how to
 * fill a row.
 */
export class ReceiptWriter<Seen extends unknown[]> {
  private constructor(
    private readonly rows: ChunkAppender,
    private readonly runId: number,
    private readonly fill: ReceiptRow<Seen>,
  ) {}

  static async open<Seen extends unknown[]>(store: Store, table: string, columns: Readonly<Record<string, ColumnKind>>, runId: number, fill: ReceiptRow<Seen>): Promise<ReceiptWriter<Seen>> {
    return new ReceiptWriter(await openChunkAppender(store, table, Object.values(columns)), runId, fill);
  }

  /** What `source` (a backend, gateway or database by its name in the run) is handed as its `record`. */
  recorderFor(source: string): (...seen: Seen) => void {
    return (...seen) => {
      this.fill(this.rows, this.runId, source, ...seen);
      this.rows.endRow();
    };
  }

  /** Commits every row and closes (waits for DuckDB to store them). */
  async close(): Promise<void> {
    await this.rows.finish();
  }
}
