import { payloadHash } from '../../core/payload-hash.ts';
import { columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import { ReceiptWriter, type ReceiptRow } from '../../store/receipt-writer.ts';
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

/** What the HTTP backends of a run received and answered (`http_receipts`): each is handed `recorderFor(its role)`. */
export type HttpReceiptWriter = ReceiptWriter<[ReceivedHttpRequest]>;

export function openHttpReceipts(store: Store, runId: number): Promise<HttpReceiptWriter> {
  return ReceiptWriter.open(store, 'http_receipts', COLUMNS, runId, httpReceiptRow);
}

const httpReceiptRow: ReceiptRow<[ReceivedHttpRequest]> = (r, runId, backend, receipt) => {
  r.setNumber(C.run_id, runId);
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
};
