import { columnIndexes, openChunkAppender, type ChunkAppender, type ColumnKind } from './chunk-appender.ts';
import { BatchedTableWriter } from './batched-table-writer.ts';
import type { Store } from './store.ts';

const COLUMNS = {
  run_id: 'i32',
  send_no: 'u32',
  capture_idx: 'u32',
  loop_no: 'i32',
  device: 'varchar',
  local_ip: 'varchar',
  local_port: 'i32',
  route_port: 'i32',
  relay_port: 'i32',
  scheduled_ns: 'i64',
  actual_ns: 'i64',
  payload_hash: 'i64',
  payload_bytes: 'i32',
  kind: 'varchar',
  wants_ack: 'bool',
  match_key: 'varchar',
  device_id: 'varchar',
  error: 'varchar',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

export interface SendRecord {
  sendNo: number;
  captureIdx: number;
  loop: number;
  device: string;
  localIp: string;
  localPort: number;
  routePort: number;
  relayPort: number;
  /** Monotonic ns, as numbers: exact for 104 days of uptime. */
  scheduledNs: number;
  actualNs: number;
  payloadHash: number;
  payloadBytes: number;
  kind: string;
  wantsAck: boolean;
  matchKey: string | undefined;
  deviceId: string | undefined;
  error: string | undefined;
}

/**
 * Appends the replayer's `sends` rows (the device>relay leg of a replay). Committed when the pacer has time to spare
 * (Store.flushStale), and at least every `flushIntervalMs`: a crash loses at most that much, and what DuckDB had not
 * yet taken of the rows before it (`ready()` keeps that short). The rows go through a feed (ChunkFeed), so DuckDB
 * stores them on its own threads: through an appender the main thread stored them itself, 1.5-2 µs a send, and at
 * full speed a commit held it 250-450 ms while the sending thread ran out of batches.
 */
export class SendWriter extends BatchedTableWriter {
  private constructor(store: Store, appender: ChunkAppender, private readonly runId: number, flushIntervalMs: number) {
    super(store, appender, flushIntervalMs);
  }

  static async create(store: Store, runId: number, options: { flushIntervalMs?: number } = {}): Promise<SendWriter> {
    const appender = await openChunkAppender(store, 'sends', Object.values(COLUMNS));
    return new SendWriter(store, appender, runId, options.flushIntervalMs ?? 250);
  }

  add(send: SendRecord): void {
    const a = this.appender;
    a.setNumber(C.run_id, this.runId);
    a.setNumber(C.send_no, send.sendNo);
    a.setNumber(C.capture_idx, send.captureIdx);
    a.setNumber(C.loop_no, send.loop);
    a.setString(C.device, send.device);
    a.setString(C.local_ip, send.localIp);
    a.setNumber(C.local_port, send.localPort);
    a.setNumber(C.route_port, send.routePort);
    a.setNumber(C.relay_port, send.relayPort);
    a.setSafeInteger(C.scheduled_ns, send.scheduledNs);
    a.setSafeInteger(C.actual_ns, send.actualNs);
    a.setSafeInteger(C.payload_hash, send.payloadHash);
    a.setNumber(C.payload_bytes, send.payloadBytes);
    a.setString(C.kind, send.kind);
    a.setBoolean(C.wants_ack, send.wantsAck);
    if (send.matchKey === undefined) a.setNull(C.match_key);
    else a.setString(C.match_key, send.matchKey);
    if (send.deviceId === undefined) a.setNull(C.device_id);
    else a.setString(C.device_id, send.deviceId);
    if (send.error === undefined) a.setNull(C.error);
    else a.setString(C.error, send.error);
    a.endRow();
  }

}
