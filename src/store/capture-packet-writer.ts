import type { UdpDatagram } from '../capture/udp-datagram.ts';
import { debug } from '../core/debug.ts';
import { payloadHash } from '../core/payload-hash.ts';
import { CommitClock } from './commit-clock.ts';
import { ChunkAppender, columnIndexes, openChunkAppender, type ColumnKind } from './chunk-appender.ts';
import type { CommitPolicy } from './batched-table-writer.ts';
import type { FlushableWriter, Store } from './store.ts';

const NS_PER_SECOND = 1_000_000_000n;

/** `capture_packets` columns in schema.sql order, with how each is written. */
const PACKET_COLUMNS = {
  capture_id: 'i32',
  idx: 'u32',
  frame_no: 'u32',
  ts_ns: 'i64',
  src_address: 'i32',
  src_port: 'i32',
  dst_address: 'i32',
  dst_port: 'i32',
  wire_bytes: 'i32',
  truncated: 'bool',
  payload_hash: 'i64',
  payload: 'blob',
} as const satisfies Record<string, ColumnKind>;
const P = columnIndexes(PACKET_COLUMNS);

const ADDRESS_COLUMNS = { capture_id: 'i32', address_id: 'i32', ip: 'varchar', ip_version: 'u8' } as const satisfies Record<string, ColumnKind>;
const A = columnIndexes(ADDRESS_COLUMNS);

/** How often a capture's rows are committed: the most a killed import or recording loses. */
export const CAPTURE_FLUSH_INTERVAL_MS = 250;

/**
 * Appends UDP datagrams of one capture to `capture_packets`, giving each distinct IP address an id that
 * `capture_addresses` maps back to its text. Rows are committed at least every `CAPTURE_FLUSH_INTERVAL_MS`, and an
 * address is always committed before the first packet that uses it, so a writer killed at any moment leaves a capture
 * whose committed packets all resolve to addresses.
 */
export class CapturePacketWriter implements FlushableWriter {
  private nextIdx = 0;
  private readonly addressIds = new Map<string, number>();
  private pendingAddresses = 0;
  private readonly clock: CommitClock;
  /** The earliest and latest timestamps, as seconds and nanoseconds: a BigInt per packet cost the collector. */
  private first: { sec: number; ns: number } | undefined;
  private last: { sec: number; ns: number } | undefined;

  private constructor(
    private readonly store: Store,
    private readonly packets: ChunkAppender,
    private readonly addresses: ChunkAppender,
    private readonly captureId: number,
    flushIntervalMs: number,
    rowGroupCommits: boolean,
  ) {
    packets.beforeChunk = () => this.commitAddresses();
    if (rowGroupCommits) packets.onRowGroup = () => this.flush();
    packets.onCommitted = (rows) => debug('capture %d committed %d packets', captureId, rows);
    this.clock = new CommitClock(flushIntervalMs, flushIntervalMs, (maxAgeMs) => this.flushIfStale(maxAgeMs));
    store.registerWriter(this);
  }

  /**
   * The packets go through a feed DuckDB stores on its own threads (an import: call `ready()` before reading more; a
   * recording tap: its commits must not hold the traffic it forwards). Close with `close()`, which waits for DuckDB.
   */
  static async create(store: Store, captureId: number, options: CommitPolicy = {}): Promise<CapturePacketWriter> {
    const packets = await openChunkAppender(store, 'capture_packets', Object.values(PACKET_COLUMNS));
    const addresses = await store.createWriterAppender('capture_addresses');
    return new CapturePacketWriter(
      store,
      packets,
      new ChunkAppender(addresses.appender, 'capture_addresses', Object.values(ADDRESS_COLUMNS), addresses.release),
      captureId,
      options.flushIntervalMs ?? CAPTURE_FLUSH_INTERVAL_MS,
      options.rowGroupCommits ?? false,
    );
  }

  get firstTsNs(): bigint | undefined {
    return this.first === undefined ? undefined : BigInt(this.first.sec) * NS_PER_SECOND + BigInt(this.first.ns);
  }

  get lastTsNs(): bigint | undefined {
    return this.last === undefined ? undefined : BigInt(this.last.sec) * NS_PER_SECOND + BigInt(this.last.ns);
  }

  /** Datagrams written so far (the next `idx`). */
  get rows(): number {
    return this.nextIdx;
  }

  /** Datagrams committed so far, by DuckDB's threads (what a writer killed now leaves in the store). */
  get committed(): number {
    return this.packets.committed;
  }

  add(datagram: UdpDatagram): void {
    const a = this.packets;
    const { tsSec: sec, tsFracNs: ns } = datagram;
    const { first, last } = this;
    if (first === undefined || last === undefined) {
      this.first = { sec, ns };
      this.last = { sec, ns };
    } else if (sec < first.sec || (sec === first.sec && ns < first.ns)) {
      first.sec = sec;
      first.ns = ns;
    } else if (sec > last.sec || (sec === last.sec && ns > last.ns)) {
      last.sec = sec;
      last.ns = ns;
    }
    a.setNumber(P.capture_id, this.captureId);
    a.setNumber(P.idx, this.nextIdx++);
    a.setNumber(P.frame_no, datagram.frameNo);
    a.setEpochNs(P.ts_ns, sec, ns);
    a.setNumber(P.src_address, this.addressId(datagram.srcIp));
    a.setNumber(P.src_port, datagram.srcPort);
    a.setNumber(P.dst_address, this.addressId(datagram.dstIp));
    a.setNumber(P.dst_port, datagram.dstPort);
    a.setNumber(P.wire_bytes, datagram.wireBytes);
    a.setBoolean(P.truncated, datagram.truncated);
    a.setSafeInteger(P.payload_hash, payloadHash(datagram.payload));
    a.setBytes(P.payload, datagram.payload);
    a.endRow();
  }

  flushIfStale(maxAgeMs: number): void {
    if (this.clock.isStale(maxAgeMs)) this.flush();
  }

  /** Resolves when more rows are welcome (a bulk writer's backlog has shrunk). */
  async ready(): Promise<void> {
    await this.packets.ready();
  }

  /** Commits every row written so far, addresses first. */
  flush(): void {
    this.clock.committed();
    this.packets.flushChunk();
    this.commitAddresses();
    this.packets.flush();
  }

  /** Commits the rows and closes both appenders. */
  async close(): Promise<void> {
    const failure = this.clock.stop();
    this.store.unregisterWriter(this);
    try {
      this.packets.flushChunk();
      this.commitAddresses();
      await this.packets.finish();
    } finally {
      this.addresses.close();
    }
    if (failure !== undefined) throw failure;
  }

  private commitAddresses(): void {
    if (this.pendingAddresses === 0) return;
    this.pendingAddresses = 0;
    this.addresses.flush();
  }

  private addressId(ip: string): number {
    let id = this.addressIds.get(ip);
    if (id === undefined) {
      id = this.addressIds.size;
      this.addressIds.set(ip, id);
      const a = this.addresses;
      a.setNumber(A.capture_id, this.captureId);
      a.setNumber(A.address_id, id);
      a.setString(A.ip, ip);
      a.setNumber(A.ip_version, ip.includes(':') ? 6 : 4);
      a.endRow();
      this.pendingAddresses++;
    }
    return id;
  }
}
