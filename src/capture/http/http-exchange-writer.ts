import { ChunkAppender, columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';
import type { HttpExchange } from './har-reader.ts';

const COLUMNS = {
  capture_id: 'i32',
  idx: 'u32',
  ts_ns: 'i64',
  method: 'varchar',
  url: 'varchar',
  http_version: 'varchar',
  request_headers: 'varchar',
  request_body: 'blob',
  status: 'i32',
  response_headers: 'varchar',
  response_body: 'blob',
  duration_ms: 'f64',
  missing: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** Appends a capture's HTTP exchanges (from a HAR file, or read out of TCP) to `http_exchanges`, numbered in order. */
export class HttpExchangeWriter {
  /** Exchanges written so far. */
  count = 0;

  private constructor(
    private readonly rows: ChunkAppender,
    private readonly captureId: number,
  ) {}

  static async create(store: Store, captureId: number): Promise<HttpExchangeWriter> {
    const { appender, release } = await store.createWriterAppender('http_exchanges');
    return new HttpExchangeWriter(new ChunkAppender(appender, 'http_exchanges', Object.values(COLUMNS), release), captureId);
  }

  add(exchange: HttpExchange): void {
    appendExchange(this.rows, this.captureId, this.count++, exchange);
  }

  close(): void {
    this.rows.close();
  }
}

function appendExchange(rows: ChunkAppender, captureId: number, idx: number, e: HttpExchange): void {
  rows.setNumber(C.capture_id, captureId);
  rows.setNumber(C.idx, idx);
  rows.setBigInt(C.ts_ns, e.tsNs);
  rows.setString(C.method, e.method);
  rows.setString(C.url, e.url);
  if (e.httpVersion === null) rows.setNull(C.http_version);
  else rows.setString(C.http_version, e.httpVersion);
  rows.setString(C.request_headers, JSON.stringify(e.requestHeaders));
  if (e.requestBody === null) rows.setNull(C.request_body);
  else rows.setBytes(C.request_body, e.requestBody);
  if (e.status === null) rows.setNull(C.status);
  else rows.setNumber(C.status, e.status);
  rows.setString(C.response_headers, JSON.stringify(e.responseHeaders));
  if (e.responseBody === null) rows.setNull(C.response_body);
  else rows.setBytes(C.response_body, e.responseBody);
  if (e.durationMs === null) rows.setNull(C.duration_ms);
  else rows.setNumber(C.duration_ms, e.durationMs);
  if (e.missing.length === 0) rows.setNull(C.missing);
  else rows.setString(C.missing, e.missing.join(','));
  rows.endRow();
}
