import { BatchedTableWriter } from '../../store/batched-table-writer.ts';
import { columnIndexes, openChunkAppender, type ChunkAppender, type ColumnKind } from '../../store/chunk-appender.ts';
import type { Store } from '../../store/store.ts';

const COLUMNS = {
  run_id: 'i32',
  send_no: 'u32',
  exchange_idx: 'u32',
  loop_no: 'i32',
  request_id: 'varchar',
  method: 'varchar',
  path: 'varchar',
  body_bytes: 'i32',
  body_hash: 'i64',
  scheduled_ns: 'i64',
  actual_ns: 'i64',
  answered_ns: 'i64',
  status: 'i32',
  response_bytes: 'i32',
  response_hash: 'i64',
  routed_to: 'varchar',
  error: 'varchar',
  route_reason: 'varchar',
  echoed_request_id: 'varchar',
  response_headers: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/** One request an HTTP replay sent, and what came back. */
export interface HttpSend {
  sendNo: number;
  exchangeIdx: number;
  loop: number;
  requestId: string;
  method: string;
  path: string;
  bodyBytes: number;
  bodyHash: number;
  scheduledNs: bigint;
  actualNs: bigint;
  answer: { answeredNs: bigint; status: number; bytes: number; hash: number; routedTo: string | null; routeReason: string | null; echoedRequestId: string | null; headers: string } | null;
  error: string | null;
}

/**
 * Appends an HTTP replay's sends to `http_sends`, committed at least every `flushIntervalMs` (what a crash loses),
 * through a feed: this thread records what the sending thread reports, and hosts a scenario's proxy and backends, which
 * an appender's flush (DuckDB's own, at 204,800 rows) would hold for tens of milliseconds.
 */
export class HttpSendWriter extends BatchedTableWriter {
  private constructor(store: Store, rows: ChunkAppender, private readonly runId: number, flushIntervalMs: number) {
    super(store, rows, flushIntervalMs);
  }

  static async create(store: Store, runId: number, options: { flushIntervalMs?: number } = {}): Promise<HttpSendWriter> {
    return new HttpSendWriter(store, await openChunkAppender(store, 'http_sends', Object.values(COLUMNS)), runId, options.flushIntervalMs ?? 250);
  }

  add(send: HttpSend): void {
    const r = this.appender;
    r.setNumber(C.run_id, this.runId);
    r.setNumber(C.send_no, send.sendNo);
    r.setNumber(C.exchange_idx, send.exchangeIdx);
    r.setNumber(C.loop_no, send.loop);
    r.setString(C.request_id, send.requestId);
    r.setString(C.method, send.method);
    r.setString(C.path, send.path);
    r.setNumber(C.body_bytes, send.bodyBytes);
    r.setSafeInteger(C.body_hash, send.bodyHash);
    r.setBigInt(C.scheduled_ns, send.scheduledNs);
    r.setBigInt(C.actual_ns, send.actualNs);
    const answer = send.answer;
    if (answer === null) {
      for (const column of [C.answered_ns, C.status, C.response_bytes, C.response_hash, C.routed_to, C.route_reason, C.echoed_request_id, C.response_headers]) r.setNull(column);
    } else {
      r.setBigInt(C.answered_ns, answer.answeredNs);
      r.setNumber(C.status, answer.status);
      r.setNumber(C.response_bytes, answer.bytes);
      r.setSafeInteger(C.response_hash, answer.hash);
      for (const [column, value] of [[C.routed_to, answer.routedTo], [C.route_reason, answer.routeReason], [C.echoed_request_id, answer.echoedRequestId]] as const) {
        if (value === null) r.setNull(column);
        else r.setString(column, value);
      }
      r.setString(C.response_headers, answer.headers);
    }
    if (send.error === null) r.setNull(C.error);
    else r.setString(C.error, send.error);
    r.endRow();
  }
}
