import type { PgSessionInfo, PgStatement } from '../capture/pg/pg-session.ts';
import { setAnswer } from '../capture/pg/pg-statement-writer.ts';
import { columnIndexes, type ColumnKind } from '../store/chunk-appender.ts';
import { ReceiptWriter, type ReceiptRow } from '../store/receipt-writer.ts';
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

/** What each database's tap saw it receive and answer (`pg_receipts`): each tap is handed `recorderFor(its database)`. */
export type PgReceiptWriter = ReceiptWriter<[PgStatement, PgSessionInfo]>;

export function openPgReceipts(store: Store, runId: number): Promise<PgReceiptWriter> {
  return ReceiptWriter.open(store, 'pg_receipts', COLUMNS, runId, pgReceiptRow);
}

const pgReceiptRow: ReceiptRow<[PgStatement, PgSessionInfo]> = (r, runId, database, s, session) => {
  r.setNumber(C.run_id, runId);
  r.setString(C.database, database);
  r.setString(C.session, session.client);
  r.setNumber(C.seq, s.seq);
  r.setBigInt(C.received_ns, s.tsNs);
  setAnswer(r, { ...C, end_ns: C.answered_ns }, s);
  if (s.rowSetHash === null) r.setNull(C.row_set_hash);
  else r.setString(C.row_set_hash, s.rowSetHash);
};
