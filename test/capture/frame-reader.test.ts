import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FrameReader, type ReadMessage } from '../../src/capture/ws/frame-reader.ts';

/** A frame built by hand from RFC 6455 section 5.2 (payloads under 126 bytes), masked as a client must. */
function frame(opcode: number, payload: Buffer, options: { fin?: boolean; rsv1?: boolean; mask?: boolean } = {}): Buffer {
  const { fin = true, rsv1 = false, mask = true } = options;
  const head = Buffer.from([(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode, (mask ? 0x80 : 0) | payload.length]);
  if (!mask) return Buffer.concat([head, payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  return Buffer.concat([head, key, Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] as number)))]);
}

async function read(fromClient: boolean, extensions: string, pieces: readonly Buffer[]): Promise<{ messages: ReadMessage[]; fault: string | undefined }> {
  const messages: ReadMessage[] = [];
  const reader = new FrameReader(fromClient, extensions, (m) => messages.push(m));
  pieces.forEach((piece, i) => reader.write(piece, BigInt(i + 1)));
  await reader.end();
  return { messages, fault: reader.fault };
}

/** What permessage-deflate sends: raw deflate with the final empty block's 00 00 ff ff taken off. */
function deflated(text: string): Buffer {
  const raw = deflateRawSync(Buffer.from(text), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  return raw.subarray(0, raw.length - 4);
}

describe('FrameReader', () => {
  it('reads masked text, joins fragments split across writes, and times each message by the write that completed it', async () => {
    const whole = frame(1, Buffer.from('{"seq":1}'));
    const first = frame(1, Buffer.from('{"seq":'), { fin: false });
    const last = frame(0, Buffer.from('2}'));
    const { messages, fault } = await read(true, '', [whole.subarray(0, 3), whole.subarray(3), first, last]);
    expect(fault).toBeUndefined();
    expect(messages.map((m) => [m.data.toString(), m.tsNs])).toEqual([['{"seq":1}', 2n], ['{"seq":2}', 4n]]);
  });

  it('inflates permessage-deflate as the 101 agreed', async () => {
    const { messages, fault } = await read(true, 'permessage-deflate; client_no_context_takeover', [frame(1, deflated('{"seq":3,"lat":52.1}'), { rsv1: true })]);
    expect(fault).toBeUndefined();
    expect(messages.map((m) => m.data.toString())).toEqual(['{"seq":3,"lat":52.1}']);
  });

  it('stops at a frame that breaks the protocol, keeping the messages before it', async () => {
    const unmasked = await read(true, '', [frame(1, Buffer.from('ok')), frame(1, Buffer.from('not masked'), { mask: false })]);
    expect(unmasked.messages.map((m) => m.data.toString())).toEqual(['ok']);
    expect(unmasked.fault).toMatch(/MASK must be set/);
    const compressedWithoutAgreement = await read(true, '', [frame(1, deflated('x'), { rsv1: true })]);
    expect(compressedWithoutAgreement.fault).toMatch(/RSV1 must be clear/);
    const badUtf8 = await read(true, '', [frame(1, Buffer.from([0xff, 0xfe]))]);
    expect(badUtf8.fault).toMatch(/invalid UTF-8/i);
  });

  it('says so when the connection ends inside a message', async () => {
    const cut = await read(true, '', [frame(1, Buffer.from('{"seq":'), { fin: false })]);
    expect(cut.fault).toBe('a message was cut short when the connection ended');
    const half = await read(true, '', [frame(1, Buffer.from('{"seq":9}')).subarray(0, 8)]);
    expect(half.fault).toBe('a message was cut short when the connection ended');
  });
});
