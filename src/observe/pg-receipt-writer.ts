import type { PgSessionInfo, PgStatement } from '../capture/pg/pg-session.ts';
import { setAnswer } from '../capture/pg/pg-statement-writer.ts';
import { columnIndexes, openChunkAppender, type ChunkAppender, type ColumnKind } from '../store/chunk-appender.ts';
import type { Store } from '../store/store.ts';

const COLUMNS = {
  run_id: 'i32',
  database: 'varchar',
  session: 'varchar',
  seq: 'u32',
  received_ns: 'i64',
  answered_ns: 'i64',
  query: 'varchar',
  params: 'varchar',
  command_tag: 'varchar',
  row_count: 'i64',
  row_hash: 'varchar',
  row_set_hash: 'varchar',
  sqlstate: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** Appends what a database's tap saw it receive and answer to `pg_receipts`, committed when closed. */
export class PgReceiptWriter {
  private constructor(
    private readonly rows: ChunkAppender,
    private readonly runId: number,
  ) {}

  static async create(store: Store, runId: number): Promise<PgReceiptWriter> {
    // DuckDB's threads store the rows: what records them answers traffic on this thread.
    return new PgReceiptWriter(await openChunkAppender(store, 'pg_receipts', Object.values(COLUMNS)), runId);
  }

  recorderFor(database: string): (statement: PgStatement, session: PgSessionInfo) => void {
    return (s, session) => {
      const r = this.rows;
      r.setNumber(C.run_id, this.runId);
      r.setString(C.database, database);
      r.setString(C.session, session.client);
      r.setNumber(C.seq, s.seq);
      r.setBigInt(C.received_ns, s.tsNs);
      setAnswer(r, { ...C, end_ns: C.answered_ns }, s);
      if (s.rowSetHash === null) r.setNull(C.row_set_hash);
      else r.setString(C.row_set_hash, s.rowSetHash);
      r.endRow();
    };
  }

  /** Commits every row and closes (waits for DuckDB to store them). */
  async close(): Promise<void> {
    await this.rows.finish();
  }
}
