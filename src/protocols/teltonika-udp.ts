import { unparsed, type AckOptions, type DecodedMessage, type DeviceProtocol, type FieldValue } from './protocol.ts';

/**
 * Teltonika AVL data over UDP (codec 8, and codec 8 Extended). Big-endian:
 * `length u16 | packet id u16 | packet type u8 | AVL packet id u8 | IMEI length u16 | IMEI | codec | count | records | count`.
 * The server's ACK: `0005 <packet id u16> 01 <AVL packet id> <records accepted>`.
 */

const CODEC_8 = 0x08;
const CODEC_8_EXTENDED = 0x8e;
const ACK_BODY_BYTES = 5;
const RECORD_FIXED_BYTES = 8 + 1 + 15;

const ACK_FIELD_LABELS: Record<string, string> = {
  packetId: 'packet id',
  packetType: 'packet type',
  avlPacketId: 'AVL packet id',
  acceptedRecords: 'records accepted',
};

class Cursor {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}
  get left(): number {
    return this.bytes.length - this.at;
  }
  u8(): number {
    return this.bytes[this.at++] as number;
  }
  u16(): number {
    const value = ((this.bytes[this.at] as number) << 8) | (this.bytes[this.at + 1] as number);
    this.at += 2;
    return value;
  }
  skip(count: number): void {
    this.at += count;
  }
}

/** Walks the AVL records to their end; returns the count of records walked, or a reason they do not fit. */
function walkRecords(cursor: Cursor, codec: number, count: number): string | undefined {
  const extended = codec === CODEC_8_EXTENDED;
  const countSize = extended ? 2 : 1;
  const readCount = (): number => (extended ? cursor.u16() : cursor.u8());
  for (let record = 0; record < count; record++) {
    if (cursor.left < RECORD_FIXED_BYTES + (extended ? 4 : 2)) return `record ${record + 1} is cut short at byte ${cursor.at}`;
    cursor.skip(RECORD_FIXED_BYTES);
    cursor.skip(countSize); // event IO id
    cursor.skip(countSize); // total IO count
    for (const valueBytes of [1, 2, 4, 8]) {
      if (cursor.left < countSize) return `IO block of record ${record + 1} is cut short at byte ${cursor.at}`;
      const ios = readCount();
      const bytes = ios * (countSize + valueBytes);
      if (cursor.left < bytes) return `IO values of record ${record + 1} run past the payload at byte ${cursor.at}`;
      cursor.skip(bytes);
    }
    if (extended) {
      if (cursor.left < 2) return `variable IO block of record ${record + 1} is cut short`;
      const ios = cursor.u16();
      for (let io = 0; io < ios; io++) {
        if (cursor.left < 4) return `variable IO of record ${record + 1} is cut short`;
        cursor.skip(2);
        const length = cursor.u16();
        if (cursor.left < length) return `variable IO value of record ${record + 1} runs past the payload`;
        cursor.skip(length);
      }
    }
  }
  return undefined;
}

function decodeRequest(payload: Uint8Array): DecodedMessage {
  const cursor = new Cursor(payload);
  if (payload.length < 2 + ACK_BODY_BYTES) return unparsed(`${payload.length} bytes is shorter than any Teltonika UDP message`);
  const length = cursor.u16();
  if (length !== payload.length - 2) return unparsed(`length field says ${length} bytes, ${payload.length - 2} follow it`);
  const packetId = cursor.u16();
  const packetType = cursor.u8();
  const avlPacketId = cursor.u8();
  const fields: Record<string, FieldValue> = { packetId, packetType, avlPacketId };
  const matchKey = `pkt:${packetId}:${avlPacketId}`;
  if (length === ACK_BODY_BYTES) {
    fields.acceptedRecords = cursor.u8();
    return { kind: 'ack', wantsAck: false, matchKey, deviceId: undefined, fields };
  }
  if (cursor.left < 2) return unparsed('IMEI length is missing');
  const imeiLength = cursor.u16();
  if (cursor.left < imeiLength + 3) return unparsed(`IMEI of ${imeiLength} bytes runs past the payload`);
  const imei = Buffer.from(payload.subarray(cursor.at, cursor.at + imeiLength)).toString('latin1');
  cursor.skip(imeiLength);
  const codec = cursor.u8();
  if (codec !== CODEC_8 && codec !== CODEC_8_EXTENDED) return unparsed(`codec 0x${codec.toString(16)} is not 8 or 8E`);
  const records = cursor.u8();
  const fault = walkRecords(cursor, codec, records);
  if (fault !== undefined) return unparsed(fault);
  if (cursor.left !== 1) return unparsed(`${cursor.left} bytes after the records, expected the 1-byte record count`);
  const trailingCount = cursor.u8();
  if (trailingCount !== records) return unparsed(`record counts differ: ${records} before the records, ${trailingCount} after`);
  Object.assign(fields, { imei, codec, records });
  return { kind: 'avl-data', wantsAck: true, matchKey, deviceId: imei, fields };
}

function buildAck(request: Uint8Array, options: AckOptions = {}): Uint8Array | undefined {
  const decoded = decodeRequest(request);
  if (!decoded.wantsAck) return undefined;
  const packetId = decoded.fields.packetId as number;
  // A NAK is an ACK that accepts no records: the device sends them again.
  const accepted = options.nakReason !== undefined ? 0 : (decoded.fields.records as number);
  return Uint8Array.from([0x00, ACK_BODY_BYTES, packetId >> 8, packetId & 0xff, 0x01, decoded.fields.avlPacketId as number, accepted]);
}

function decodeAck(payload: Uint8Array): DecodedMessage {
  const decoded = decodeRequest(payload);
  if (decoded.kind === 'ack' && decoded.fields.acceptedRecords === 0) return { ...decoded, kind: 'nak' };
  return decoded;
}

export const teltonikaUdp: DeviceProtocol = {
  name: 'teltonika-udp',
  decode: decodeRequest,
  decodeAck,
  buildAck,
  defaultIgnoredAckFields: [],
  ackFieldLabels: ACK_FIELD_LABELS,
};

/** Builds a codec 8 UDP message with `records` AVL records of the given timestamps (ms since the epoch). */
export function buildTeltonikaMessage({
  imei,
  packetId,
  avlPacketId,
  timestampsMs,
  speedKmh = 0,
}: {
  imei: string;
  packetId: number;
  avlPacketId: number;
  timestampsMs: readonly number[];
  speedKmh?: number;
}): Uint8Array {
  const records = timestampsMs.map((ms) => {
    const record = Buffer.alloc(RECORD_FIXED_BYTES + 2 + 4);
    record.writeBigUInt64BE(BigInt(Math.round(ms)), 0);
    record.writeUInt8(1, 8); // priority
    record.writeUInt16BE(speedKmh, 8 + 1 + 13);
    // event IO id 0, total 0, and four empty IO blocks (N1, N2, N4, N8).
    return record;
  });
  const imeiBytes = Buffer.from(imei, 'latin1');
  const body = Buffer.concat([
    Buffer.from([packetId >> 8, packetId & 0xff, 0x01, avlPacketId, imeiBytes.length >> 8, imeiBytes.length & 0xff]),
    imeiBytes,
    Buffer.from([CODEC_8, records.length]),
    ...records,
    Buffer.from([records.length]),
  ]);
  return Uint8Array.from(Buffer.concat([Buffer.from([body.length >> 8, body.length & 0xff]), body]));
}
