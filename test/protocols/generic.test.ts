import { describe, expect, it } from 'vitest';
import { generic } from '../../src/protocols/generic.ts';
import { getProtocol } from '../../src/protocols/index.ts';
import { compareAcks } from '../../src/protocols/protocol.ts';
import { UsageError } from '../../src/core/errors.ts';

describe('generic protocol and the registry', () => {
  it('treats payloads as opaque and compares replies byte for byte', () => {
    const request = Buffer.from('hello device server');
    expect(generic.decode(request)).toMatchObject({ kind: 'opaque', wantsAck: true, matchKey: undefined });
    const ack = generic.buildAck(request) as Uint8Array;
    expect(Buffer.from(ack).toString()).toBe('ACKhello device ser');
    expect(compareAcks(generic, ack, ack)).toEqual([]);
    expect(compareAcks(generic, ack, Buffer.from('NOPE'))).toEqual([
      { field: 'bytes', label: 'bytes', primary: Buffer.from(ack).toString('hex'), mirror: Buffer.from('NOPE').toString('hex') },
    ]);
  });

  it('finds protocols by name and refuses unknown ones with the list', () => {
    expect(getProtocol('calamp-lmd').name).toBe('calamp-lmd');
    expect(() => getProtocol('nmea')).toThrow(UsageError);
    expect(() => getProtocol('nmea')).toThrow(/calamp-lmd, teltonika-udp, generic/);
  });
});
