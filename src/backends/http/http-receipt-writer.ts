import { payloadHash } from '../../core/payload-hash.ts';
import { columnIndexes, openChunkAppender, type ChunkAppender, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';
import type { ReceivedHttpRequest } from './http-backend.ts';

const COLUMNS = {
  run_id: 'i32',
  backend: 'varchar',
  request_id: 'varchar',
  method: 'varchar',
  path: 'varchar',
  headers: 'varchar',
  content_length: 'i64',
  body_bytes: 'i32',
  body_hash: 'i64',
  received_ns: 'i64',
  answered_ns: 'i64',
  status: 'i32',
  response_body: 'blob',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** Appends what an HTTP backend received and answered to `http_receipts`, committed when closed. */
export class HttpReceiptWriter {
  /** Receipts written so far. */
  written = 0;

  private constructor(
    private readonly rows: ChunkAppender,
    private readonly runId: number,
  ) {}

  static async create(store: Store, runId: number): Promise<HttpReceiptWriter> {
    // DuckDB's threads store the rows: what records them answers traffic on this thread.
    return new HttpReceiptWriter(await openChunkAppender(store, 'http_receipts', Object.values(COLUMNS)), runId);
  }

  /** A writer for one backend's receipts, to hand to it as its `record`. */
  recorderFor(backend: string): (receipt: ReceivedHttpRequest) => void {
    return (receipt) => this.add(backend, receipt);
  }

  add(backend: string, receipt: ReceivedHttpRequest): void {
    const r = this.rows;
    r.setNumber(C.run_id, this.runId);
    r.setString(C.backend, backend);
    if (receipt.requestId === null) r.setNull(C.request_id);
    else r.setString(C.request_id, receipt.requestId);
    r.setString(C.method, receipt.method);
    r.setString(C.path, receipt.path);
    r.setString(C.headers, JSON.stringify(receipt.headers));
    if (receipt.contentLength === null || !Number.isSafeInteger(receipt.contentLength)) r.setNull(C.content_length);
    else r.setBigInt(C.content_length, BigInt(receipt.contentLength));
    r.setNumber(C.body_bytes, receipt.body.length);
    r.setSafeInteger(C.body_hash, payloadHash(receipt.body));
    r.setBigInt(C.received_ns, receipt.receivedNs);
    const answer = receipt.answer;
    if (answer === null) {
      for (const column of [C.answered_ns, C.status, C.response_body]) r.setNull(column);
    } else {
      r.setBigInt(C.answered_ns, answer.answeredNs);
      r.setNumber(C.status, answer.status);
      r.setBytes(C.response_body, answer.body);
    }
    r.endRow();
    this.written++;
  }

  /** Commits every row and closes (waits for DuckDB to store them). */
  async close(): Promise<void> {
    await this.rows.finish();
  }
}
