import { ChunkAppender, columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';
import type { PgSessionInfo, PgStatement } from './pg-session.ts';

const COLUMNS = {
  capture_id: 'i32',
  idx: 'u32',
  session: 'varchar',
  seq: 'u32',
  ts_ns: 'i64',
  end_ns: 'i64',
  db_user: 'varchar',
  database: 'varchar',
  application: 'varchar',
  kind: 'varchar',
  query: 'varchar',
  params: 'varchar',
  command_tag: 'varchar',
  row_count: 'i64',
  row_hash: 'varchar',
  sqlstate: 'varchar',
  error: 'varchar',
  copy_data: 'blob',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** The columns a statement and its answer fill alike in `pg_statements` and `pg_receipts`. */
export interface AnswerColumns {
  end_ns: number;
  query: number;
  params: number;
  command_tag: number;
  row_count: number;
  row_hash: number;
  sqlstate: number;
}

/** Fills a statement's text, parameters and answer (its end, tag, row count, row hash, SQLSTATE). */
export function setAnswer(r: ChunkAppender, columns: AnswerColumns, s: PgStatement): void {
  const text = (column: number, value: string | null): void => (value === null ? r.setNull(column) : r.setString(column, value));
  if (s.endNs === null) r.setNull(columns.end_ns);
  else r.setBigInt(columns.end_ns, s.endNs);
  r.setString(columns.query, s.text);
  text(columns.params, s.kind === 'extended' ? JSON.stringify(s.params) : null);
  text(columns.command_tag, s.tag);
  if (s.rowCount === null) r.setNull(columns.row_count);
  else r.setSafeInteger(columns.row_count, s.rowCount);
  text(columns.row_hash, s.rowHash);
  text(columns.sqlstate, s.sqlstate);
}

/** Appends a capture's PostgreSQL statements to `pg_statements`, numbered in the order their answers ended. */
export class PgStatementWriter {
  count = 0;

  private constructor(
    private readonly rows: ChunkAppender,
    private readonly captureId: number,
  ) {}

  static async create(store: Store, captureId: number): Promise<PgStatementWriter> {
    const { appender, release } = await store.createWriterAppender('pg_statements');
    return new PgStatementWriter(new ChunkAppender(appender, 'pg_statements', Object.values(COLUMNS), release), captureId);
  }

  add(statement: PgStatement, session: PgSessionInfo): void {
    const r = this.rows;
    const text = (column: number, value: string | null): void => (value === null ? r.setNull(column) : r.setString(column, value));
    r.setNumber(C.capture_id, this.captureId);
    r.setNumber(C.idx, this.count++);
    r.setString(C.session, `${session.client} -> ${session.server}`);
    r.setNumber(C.seq, statement.seq);
    r.setBigInt(C.ts_ns, statement.tsNs);
    text(C.db_user, session.user);
    text(C.database, session.database);
    text(C.application, session.application);
    r.setString(C.kind, statement.kind);
    setAnswer(r, C, statement);
    text(C.error, statement.error);
    if (statement.copyData === null) r.setNull(C.copy_data);
    else r.setBytes(C.copy_data, statement.copyData);
    r.endRow();
  }

  close(): void {
    this.rows.close();
  }
}
