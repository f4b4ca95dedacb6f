import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareAcks, toHex } from '../../src/protocols/protocol.ts';
import { buildTeltonikaMessage, teltonikaUdp } from '../../src/protocols/teltonika-udp.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
const VECTOR = '003DCAFE0105000F33353230393330383634303336353508010000016B4F815B30010000000000000000000000000000000103021503010101425DBC000001';

describe('teltonika-udp', () => {
  it('decodes the real codec 8 message and builds the exact ACK', () => {
    const decoded = teltonikaUdp.decode(hex(VECTOR));
    expect(decoded).toMatchObject({
      kind: 'avl-data',
      wantsAck: true,
      deviceId: '352093086403655',
      matchKey: 'pkt:51966:5',
      fields: { packetId: 0xcafe, avlPacketId: 5, codec: 8, records: 1 },
    });
    const ack = teltonikaUdp.buildAck(hex(VECTOR)) as Uint8Array;
    expect(toHex(ack)).toBe('0005cafe010501');
    expect(teltonikaUdp.decodeAck(ack)).toMatchObject({ kind: 'ack', matchKey: 'pkt:51966:5', fields: { acceptedRecords: 1 } });
  });

  it('answers a NAK as an ACK that accepts no records, and compares accepted counts', () => {
    const nak = teltonikaUdp.buildAck(hex(VECTOR), { nakReason: 1 }) as Uint8Array;
    expect(toHex(nak)).toBe('0005cafe010500');
    expect(teltonikaUdp.decodeAck(nak).kind).toBe('nak');
    const ack = teltonikaUdp.buildAck(hex(VECTOR)) as Uint8Array;
    expect(compareAcks(teltonikaUdp, ack, nak).map((d) => d.field)).toEqual(['kind', 'acceptedRecords']);
  });

  it.each([
    { name: 'length field disagreeing with the payload', bytes: VECTOR.replace(/^003D/, '0040') },
    { name: 'records cut short', bytes: `003D${VECTOR.slice(4, 90)}` },
    { name: 'unknown codec', bytes: VECTOR.replace('3508010000016B', '3599010000016B') },
    { name: 'record counts that differ', bytes: `${VECTOR.slice(0, -2)}02` },
  ])('decodes a malformed payload ($name) to unparsed with a reason', ({ bytes }) => {
    const decoded = teltonikaUdp.decode(hex(bytes));
    expect(decoded.kind).toBe('unparsed');
    expect(decoded.reason).toMatch(/\w/);
  });

  it('property: an ACK built for any generated message decodes to its request\'s match key and record count', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{15}$/),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.array(fc.integer({ min: 1_500_000_000_000, max: 1_900_000_000_000 }), { minLength: 1, maxLength: 10 }),
        (imei, packetId, avlPacketId, timestampsMs) => {
          const request = buildTeltonikaMessage({ imei, packetId, avlPacketId, timestampsMs });
          const decoded = teltonikaUdp.decode(request);
          expect(decoded).toMatchObject({ kind: 'avl-data', deviceId: imei });
          const ack = teltonikaUdp.decodeAck(teltonikaUdp.buildAck(request) as Uint8Array);
          expect(ack.matchKey).toBe(decoded.matchKey);
          expect(ack.fields.acceptedRecords).toBe(timestampsMs.length);
        },
      ),
    );
  });

  it('property: decoding arbitrary bytes never throws', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => void teltonikaUdp.decode(bytes)));
  });
});
