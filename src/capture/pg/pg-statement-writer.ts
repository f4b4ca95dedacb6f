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
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

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
    if (statement.endNs === null) r.setNull(C.end_ns);
    else r.setBigInt(C.end_ns, statement.endNs);
    text(C.db_user, session.user);
    text(C.database, session.database);
    text(C.application, session.application);
    r.setString(C.kind, statement.kind);
    r.setString(C.query, statement.text);
    text(C.params, statement.kind === 'extended' ? JSON.stringify(statement.params) : null);
    text(C.command_tag, statement.tag);
    if (statement.rowCount === null) r.setNull(C.row_count);
    else r.setSafeInteger(C.row_count, statement.rowCount);
    text(C.row_hash, statement.rowHash);
    text(C.sqlstate, statement.sqlstate);
    text(C.error, statement.error);
    r.endRow();
  }

  close(): void {
    this.rows.close();
  }
}
