import { columnIndexes, type ColumnKind } from '../../store/chunk-appender.ts';
import { ReceiptWriter, type ReceiptRow } from '../../store/receipt-writer.ts';
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

/** The frames a run's gateways processed (`ws_receipts`): each gateway, or its tap, is handed `recorderFor(its name)`. */
export type WsReceiptWriter = ReceiptWriter<[ReceivedFrame]>;

export function openWsReceipts(store: Store, runId: number): Promise<WsReceiptWriter> {
  return ReceiptWriter.open(store, 'ws_receipts', COLUMNS, runId, wsReceiptRow);
}

const wsReceiptRow: ReceiptRow<[ReceivedFrame]> = (r, runId, gateway, frame) => {
  r.setNumber(C.run_id, runId);
  r.setString(C.gateway, gateway);
  r.setString(C.session_id, frame.sessionId);
  r.setString(C.stream, frame.stream);
  r.setSafeInteger(C.seq, frame.seq);
  r.setBigInt(C.received_ns, frame.receivedNs);
  r.setBoolean(C.ack_requested, frame.acked);
};
