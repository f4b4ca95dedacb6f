import type { UdpDatagram } from '../capture/udp-datagram.ts';
import { debug } from '../core/debug.ts';
import { payloadHash } from '../core/payload-hash.ts';
import { CommitClock } from './commit-clock.ts';
import { ChunkAppender, columnIndexes, type ColumnKind } from './chunk-appender.ts';
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
  firstTsNs: bigint | undefined;
  lastTsNs: bigint | undefined;

  private constructor(
    private readonly store: Store,
    private readonly packets: ChunkAppender,
    private readonly addresses: ChunkAppender,
    private readonly captureId: number,
    flushIntervalMs: number,
  ) {
    packets.beforeChunk = () => this.commitAddresses();
    this.clock = new CommitClock(flushIntervalMs, flushIntervalMs, (maxAgeMs) => this.flushIfStale(maxAgeMs));
    store.registerWriter(this);
  }

  static async create(store: Store, captureId: number, options: { flushIntervalMs?: number } = {}): Promise<CapturePacketWriter> {
    const packets = await store.createWriterAppender('capture_packets');
    const addresses = await store.createWriterAppender('capture_addresses');
    return new CapturePacketWriter(
      store,
      new ChunkAppender(packets.appender, 'capture_packets', Object.values(PACKET_COLUMNS), packets.release),
      new ChunkAppender(addresses.appender, 'capture_addresses', Object.values(ADDRESS_COLUMNS), addresses.release),
      captureId,
      options.flushIntervalMs ?? CAPTURE_FLUSH_INTERVAL_MS,
    );
  }

  /** Datagrams written so far (the next `idx`). */
  get rows(): number {
    return this.nextIdx;
  }

  add(datagram: UdpDatagram): void {
    const a = this.packets;
    const tsNs = BigInt(datagram.tsSec) * NS_PER_SECOND + BigInt(datagram.tsFracNs);
    if (this.firstTsNs === undefined || tsNs < this.firstTsNs) this.firstTsNs = tsNs;
    if (this.lastTsNs === undefined || tsNs > this.lastTsNs) this.lastTsNs = tsNs;
    a.setNumber(P.capture_id, this.captureId);
    a.setNumber(P.idx, this.nextIdx++);
    a.setNumber(P.frame_no, datagram.frameNo);
    a.setBigInt(P.ts_ns, tsNs);
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

  /** Commits every row written so far, addresses first. */
  flush(): void {
    this.clock.committed();
    this.packets.flushChunk();
    this.commitAddresses();
    this.packets.flush();
    debug('capture %d committed %d packets', this.captureId, this.nextIdx);
  }

  /** Commits the rows and closes both appenders. */
  async close(): Promise<void> {
    const failure = this.clock.stop();
    this.store.unregisterWriter(this);
    try {
      this.packets.flushChunk();
      this.commitAddresses();
      this.packets.close();
    } finally {
      this.addresses.close();
    }
    await Promise.resolve();
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
