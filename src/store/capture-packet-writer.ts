import { blobValue } from '@duckdb/node-api';
import type { UdpDatagram } from '../capture/udp-datagram.ts';
import { payloadHash } from '../core/payload-hash.ts';
import { ColumnBatch } from './column-batch.ts';
import type { Store } from './store.ts';

const NS_PER_SECOND = 1_000_000_000n;

/** `capture_packets` columns in schema.sql order. */
const CAPTURE_PACKET_COLUMNS = [
  'capture_id',
  'idx',
  'frame_no',
  'ts_ns',
  'ip_version',
  'src_ip',
  'src_port',
  'dst_ip',
  'dst_port',
  'wire_bytes',
  'truncated',
  'payload_hash',
  'payload',
] as const;

/** Appends UDP datagrams of one capture to `capture_packets`, a data chunk at a time. */
export class CapturePacketWriter {
  private nextIdx = 0;
  firstTsNs: bigint | undefined;
  lastTsNs: bigint | undefined;

  private constructor(
    private readonly batch: ColumnBatch<(typeof CAPTURE_PACKET_COLUMNS)[number]>,
    private readonly captureId: number,
  ) {}

  /** `firstIdx` continues numbering when several files make one capture. */
  static async create(store: Store, captureId: number, firstIdx = 0): Promise<CapturePacketWriter> {
    const appender = await store.createAppender('capture_packets');
    const writer = new CapturePacketWriter(new ColumnBatch(appender, CAPTURE_PACKET_COLUMNS), captureId);
    writer.nextIdx = firstIdx;
    return writer;
  }

  /** Datagrams written so far (the next `idx`). */
  get rows(): number {
    return this.nextIdx;
  }

  add(datagram: UdpDatagram): void {
    const { batch } = this;
    const { column: c, rows: row } = batch;
    const tsNs = BigInt(datagram.tsSec) * NS_PER_SECOND + BigInt(datagram.tsFracNs);
    if (this.firstTsNs === undefined || tsNs < this.firstTsNs) this.firstTsNs = tsNs;
    if (this.lastTsNs === undefined || tsNs > this.lastTsNs) this.lastTsNs = tsNs;
    c.capture_id[row] = this.captureId;
    c.idx[row] = this.nextIdx++;
    c.frame_no[row] = datagram.frameNo;
    c.ts_ns[row] = tsNs;
    c.ip_version[row] = datagram.ipVersion;
    c.src_ip[row] = datagram.srcIp;
    c.src_port[row] = datagram.srcPort;
    c.dst_ip[row] = datagram.dstIp;
    c.dst_port[row] = datagram.dstPort;
    c.wire_bytes[row] = datagram.wireBytes;
    c.truncated[row] = datagram.truncated;
    c.payload_hash[row] = BigInt(payloadHash(datagram.payload));
    c.payload[row] = blobValue(datagram.payload);
    batch.commitRow();
  }

  flush(): void {
    this.batch.flush();
  }

  close(): void {
    this.batch.close();
  }
}
