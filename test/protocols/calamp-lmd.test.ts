import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCalampMessage, calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { compareAcks, toHex } from '../../src/protocols/protocol.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

describe('calamp-lmd', () => {
  it.each([
    {
      name: 'event report, seq 69',
      message: '8305133303910501010102004557E5AB2457E3B3E01FD828DBFE9E3465000028C90000004201310704001EFFA12F0B22081BCA05000000000000000F87000E8E2F00EA029E0000082D',
      ack: '02010045020000000000',
      mobileId: '1333039105',
      kind: 'event-report',
      sequence: 69,
    },
    {
      name: 'event report, seq 0x8afd',
      message: '83051633033459010101028afd59ae7c1459ae7c140b06bbce2c01520e0000d916000001b900450900005affa50f091f00260d040000000f24000001b90000000000003714',
      ack: '02018afd020000000000',
      mobileId: '1633033459',
      kind: 'event-report',
      sequence: 0x8afd,
    },
    {
      name: 'event report with an 8-byte IMEI mobile ID',
      message: '8308352648068863398f01070102039c5cfc4dcd5cfc4dcd19913f5dcce1291e000033fa0000005801110800019aff9d6f0e13003e0b02000000000000000000',
      ack: '0201039c020000000000',
      mobileId: '352648068863398',
      kind: 'event-report',
      sequence: 0x039c,
    },
    {
      name: 'mini event, seq 128',
      message: '830543321494860101010a0080560b5a5e0eadd0291becf3c500f005090f1f3305000003010040c0a600000000000000008b12a102',
      ack: '020100800a0000000000',
      mobileId: '4332149486',
      kind: 'mini-event-report',
      sequence: 128,
    },
  ])('decodes the real $name and builds the exact ACK', ({ message, ack, mobileId, kind, sequence }) => {
    const decoded = calampLmd.decode(hex(message));
    expect(decoded).toMatchObject({ kind, wantsAck: true, deviceId: mobileId, matchKey: `seq:${sequence}` });
    expect(decoded.fields).toMatchObject({ mobileId, serviceType: 1, sequence });
    const built = calampLmd.buildAck(hex(message));
    expect(toHex(built ?? new Uint8Array())).toBe(ack.toLowerCase());
    // The ACK decodes to the same match key as its request.
    expect(calampLmd.decodeAck(built as Uint8Array)).toMatchObject({ kind: 'ack', matchKey: `seq:${sequence}` });
  });

  it('builds a NAK with the reason and the configured app version', () => {
    const message = hex('830543321494860101010a0080560b5a5e0eadd0291becf3c500f005090f1f3305000003010040c0a600000000000000008b12a102');
    const nak = calampLmd.buildAck(message, { nakReason: 4, appVersion: [1, 2, 3] }) as Uint8Array;
    expect(toHex(nak)).toBe('020100800a0400010203');
    expect(calampLmd.decodeAck(nak)).toMatchObject({ kind: 'nak', fields: { status: 4, appVersion: '1.2.3' } });
  });

  it('sends no ACK for unacknowledged messages or for ACKs', () => {
    const unacked = buildCalampMessage({ mobileId: '1234567890', serviceType: 0, messageType: 2, sequence: 1, body: new Uint8Array(20) });
    expect(calampLmd.decode(unacked).wantsAck).toBe(false);
    expect(calampLmd.buildAck(unacked)).toBeUndefined();
    expect(calampLmd.buildAck(hex('02010045020000000000'))).toBeUndefined();
  });

  it('names the field that differs between two ACKs, and ignores the spare byte', () => {
    const request = buildCalampMessage({ mobileId: '4444', serviceType: 1, messageType: 2, sequence: 7, body: new Uint8Array(8) });
    const primary = calampLmd.buildAck(request, { appVersion: [1, 0, 0] }) as Uint8Array;
    const mirror = calampLmd.buildAck(request, { appVersion: [2, 0, 0] }) as Uint8Array;
    expect(compareAcks(calampLmd, primary, mirror)).toEqual([{ field: 'appVersion', label: 'app version', primary: '1.0.0', mirror: '2.0.0' }]);
    const spare = Uint8Array.from(primary);
    spare[6] = 9;
    expect(compareAcks(calampLmd, primary, spare)).toEqual([]);
    expect(compareAcks(calampLmd, primary, mirror, ['appVersion'])).toEqual([]);
  });

  it.each([
    { name: 'empty', bytes: '' },
    { name: 'options header cut inside the mobile ID', bytes: '8305133303' },
    { name: 'no message header after the options', bytes: '830513330391050101' },
    { name: 'service type out of range', bytes: '0902004500' },
    { name: 'a cut-short ACK', bytes: '020100450200' },
  ])('decodes a malformed payload ($name) to unparsed with a reason, never throwing', ({ bytes }) => {
    const decoded = calampLmd.decode(hex(bytes));
    expect(decoded.kind).toBe('unparsed');
    expect(decoded.reason).toMatch(/\w/);
    expect(calampLmd.buildAck(hex(bytes))).toBeUndefined();
  });

  it('property: an ACK built for any acknowledged message decodes to its request\'s match key', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{8,16}$/),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 2, max: 14 }),
        fc.uint8Array({ maxLength: 80 }),
        (mobileId, sequence, messageType, body) => {
          const request = buildCalampMessage({ mobileId, serviceType: 1, messageType, sequence, body });
          const decoded = calampLmd.decode(request);
          const ack = calampLmd.buildAck(request);
          expect(decoded.deviceId).toBe(mobileId);
          expect(ack).toBeDefined();
          expect(calampLmd.decodeAck(ack as Uint8Array).matchKey).toBe(decoded.matchKey);
        },
      ),
    );
  });

  it('property: decoding arbitrary bytes never throws', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => void calampLmd.decode(bytes)));
  });
});
