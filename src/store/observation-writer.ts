import { payloadHash } from '../core/payload-hash.ts';
import { columnIndexes, openChunkAppender, type ChunkAppender, type ColumnKind } from './chunk-appender.ts';
import { BatchedTableWriter, type CommitPolicy } from './batched-table-writer.ts';
import type { Store } from './store.ts';

const COLUMNS = {
  run_id: 'i32',
  leg: 'varchar',
  ts_ns: 'i64',
  src_ip: 'varchar',
  src_port: 'i32',
  dst_ip: 'varchar',
  dst_port: 'i32',
  route_port: 'i32',
  payload_bytes: 'i32',
  payload_hash: 'i64',
  kind: 'varchar',
  match_key: 'varchar',
  observer: 'varchar',
  payload: 'blob',
  reply_to_hash: 'i64',
} as const satisfies Record<string, ColumnKind>;
const C = columnIndexes(COLUMNS);

/**
 * Rows are committed at least this often by default, so a crash loses at most this much of a run. A replay sets a
 * longer bound and commits when its pacer has time to spare (Store.flushStale).
 */
export const OBSERVATION_FLUSH_INTERVAL_MS = 250;

export interface Observation {
  leg: string;
  tsNs: bigint;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  routePort: number;
  payload: Uint8Array;
  kind: string;
  matchKey: string | undefined;
  observer: string;
  /** Keep the payload bytes (ACK legs); otherwise only the hash is stored. */
  keepPayload: boolean;
  /** For a reply, the payload hash of the request it answers, when the observer knows it (a backend does). */
  replyToHash?: number;
}

/**
 * Appends observations of one run. Appending is synchronous and cheap (a data chunk per 2,048 rows); rows become
 * visible to queries at each periodic flush and at `close`.
 */
export class ObservationWriter extends BatchedTableWriter {
  rows = 0;

  private constructor(store: Store, appender: ChunkAppender, private readonly runId: number, flushIntervalMs: number, rowGroupCommits: boolean) {
    super(store, appender, flushIntervalMs, rowGroupCommits);
  }

  /**
   * The rows go through a feed that DuckDB stores on its own threads: whatever records observations (a replay's devices'
   * ACKs, taps, backends) answers or forwards traffic on this thread, and a commit through an appender held it for as
   * long as DuckDB took. Close with `finish()`; await `ready()` now and then where the writer could outrun DuckDB.
   */
  static async create(store: Store, runId: number, options: CommitPolicy = {}): Promise<ObservationWriter> {
    const appender = await openChunkAppender(store, 'observations', Object.values(COLUMNS));
    return new ObservationWriter(store, appender, runId, options.flushIntervalMs ?? OBSERVATION_FLUSH_INTERVAL_MS, options.rowGroupCommits ?? false);
  }

  add(observation: Observation): void {
    const a = this.appender;
    a.setNumber(C.run_id, this.runId);
    a.setString(C.leg, observation.leg);
    a.setBigInt(C.ts_ns, observation.tsNs);
    a.setString(C.src_ip, observation.srcIp);
    a.setNumber(C.src_port, observation.srcPort);
    a.setString(C.dst_ip, observation.dstIp);
    a.setNumber(C.dst_port, observation.dstPort);
    a.setNumber(C.route_port, observation.routePort);
    a.setNumber(C.payload_bytes, observation.payload.length);
    a.setSafeInteger(C.payload_hash, payloadHash(observation.payload));
    a.setString(C.kind, observation.kind);
    if (observation.matchKey === undefined) a.setNull(C.match_key);
    else a.setString(C.match_key, observation.matchKey);
    a.setString(C.observer, observation.observer);
    if (observation.keepPayload) a.setBytes(C.payload, observation.payload);
    else a.setNull(C.payload);
    if (observation.replyToHash === undefined) a.setNull(C.reply_to_hash);
    else a.setSafeInteger(C.reply_to_hash, observation.replyToHash);
    a.endRow();
    this.rows++;
  }

}
