import type { UdpDatagram } from '../capture/udp-datagram.ts';
import { payloadHash } from '../core/payload-hash.ts';
import { ChunkAppender, columnIndexes, type ColumnKind } from './chunk-appender.ts';
import type { Store } from './store.ts';

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

/**
 * Appends UDP datagrams of one capture to `capture_packets`, giving each distinct IP address an id that
 * `capture_addresses` maps back to its text when the writer closes.
 */
export class CapturePacketWriter {
  private nextIdx = 0;
  private readonly addressIds = new Map<string, number>();
  firstTsNs: bigint | undefined;
  lastTsNs: bigint | undefined;

  private constructor(
    private readonly store: Store,
    private readonly packets: ChunkAppender,
    private readonly captureId: number,
  ) {}

  static async create(store: Store, captureId: number): Promise<CapturePacketWriter> {
    const { appender, release } = await store.createWriterAppender('capture_packets');
    return new CapturePacketWriter(store, new ChunkAppender(appender, 'capture_packets', Object.values(PACKET_COLUMNS), release), captureId);
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

  /** Writes the address table and closes the packet appender. */
  async close(): Promise<void> {
    this.packets.close();
    const { appender, release } = await this.store.createWriterAppender('capture_addresses');
    const addresses = new ChunkAppender(appender, 'capture_addresses', Object.values(ADDRESS_COLUMNS), release);
    for (const [ip, id] of this.addressIds) {
      addresses.setNumber(A.capture_id, this.captureId);
      addresses.setNumber(A.address_id, id);
      addresses.setString(A.ip, ip);
      addresses.setNumber(A.ip_version, ip.includes(':') ? 6 : 4);
      addresses.endRow();
    }
    addresses.close();
  }

  private addressId(ip: string): number {
    let id = this.addressIds.get(ip);
    if (id === undefined) {
      id = this.addressIds.size;
      this.addressIds.set(ip, id);
    }
    return id;
  }
}
