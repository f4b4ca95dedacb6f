import { describe, expect, it } from 'vitest';
import { buildUdpFrame } from '../../src/capture/frame-builder.ts';
import { CaptureFormatError, CaptureTruncatedError } from '../../src/core/errors.ts';
import { pcapFile } from '../helpers/capture-bytes.ts';
import { readBytes } from '../helpers/read-frames.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const frame = (payload: string): Uint8Array =>
  buildUdpFrame({ srcIp: '10.1.2.3', dstIp: '10.9.9.9', srcPort: 40000, dstPort: 20500, payload: Buffer.from(payload) });

describe('classic pcap reader', () => {
  it.each([
    { le: true, nanos: false, name: 'little-endian microseconds' },
    { le: false, nanos: false, name: 'big-endian microseconds' },
    { le: true, nanos: true, name: 'little-endian nanoseconds' },
    { le: false, nanos: true, name: 'big-endian nanoseconds' },
  ])('reads every frame and timestamp of a $name file', async ({ le, nanos }) => {
    await withTempDir(async (dir) => {
      const frac = nanos ? 123_456_789 : 123_456;
      const bytes = pcapFile({
        le,
        nanos,
        linkType: 1,
        records: [
          { sec: 1_700_000_000, frac, frame: frame('one') },
          { sec: 1_700_000_001, frac: 0, frame: frame('two') },
        ],
      });
      const out = await readBytes(dir, 'a.pcap', bytes);
      expect(out.error).toBeUndefined();
      expect(out.format).toBe(nanos ? 'pcap-nsec' : 'pcap');
      expect(out.frames.map((f) => [f.frameNo, f.tsSec, f.tsFracNs])).toEqual([
        [1, 1_700_000_000, nanos ? 123_456_789 : 123_456_000],
        [2, 1_700_000_001, 0],
      ]);
      expect(out.datagrams.map((d) => Buffer.from(d.payload).toString())).toEqual(['one', 'two']);
    });
  });

  it('takes the link type from the low 16 bits of the header field, ignoring the flag bits above', async () => {
    await withTempDir(async (dir) => {
      // 0x1000_0000 sets FCS-length flag bits; the link type is still Ethernet.
      const bytes = pcapFile({ linkType: 0x1000_0001, records: [{ sec: 1, frac: 0, frame: frame('x') }] });
      const out = await readBytes(dir, 'flags.pcap', bytes);
      expect(out.frames[0]?.linkType).toBe(1);
      expect(out.datagrams).toHaveLength(1);
    });
  });

  it('keeps dates after 2038 (seconds are unsigned)', async () => {
    await withTempDir(async (dir) => {
      const bytes = pcapFile({ linkType: 1, records: [{ sec: 0xfffffff0, frac: 0, frame: frame('late') }] });
      const out = await readBytes(dir, 'late.pcap', bytes);
      expect(out.frames[0]?.tsSec).toBe(0xfffffff0);
    });
  });

  it.each([
    { keep: 5, what: 'inside its 16-byte header' },
    { keep: 16 + 3, what: 'inside its frame bytes' },
  ])('keeps every complete frame before a record cut short $what, and names its offset', async ({ keep }) => {
    await withTempDir(async (dir) => {
      const whole = pcapFile({
        linkType: 1,
        records: [
          { sec: 1, frac: 0, frame: frame('one') },
          { sec: 2, frac: 0, frame: frame('two') },
        ],
      });
      const secondRecordOffset = 24 + 16 + frame('one').length;
      const out = await readBytes(dir, 'cut.pcap', whole.subarray(0, secondRecordOffset + keep));
      expect(out.error).toBeInstanceOf(CaptureTruncatedError);
      const error = out.error as CaptureTruncatedError;
      expect(error.code).toBe('PARITY_ERR_CAPTURE_TRUNCATED');
      expect(error.context.byteOffset).toBe(secondRecordOffset);
      expect(error.message).toContain(`byte offset ${secondRecordOffset}`);
      expect(error.message).toContain('cut.pcap');
      expect(out.frames).toHaveLength(1);
      expect(out.datagrams.map((d) => Buffer.from(d.payload).toString())).toEqual(['one']);
    });
  });

  it.each([
    { name: 'an empty file', bytes: Buffer.alloc(0) },
    { name: 'a text file', bytes: Buffer.from('this is not a capture, just some text\n') },
    { name: 'a short file', bytes: Buffer.from([0xd4, 0xc3, 0xb2]) },
  ])('rejects $name as not a capture, at byte offset 0', async ({ bytes }) => {
    await withTempDir(async (dir) => {
      const out = await readBytes(dir, 'bad.pcap', bytes);
      expect(out.error).toBeInstanceOf(CaptureFormatError);
      expect((out.error as CaptureFormatError).context.byteOffset).toBe(0);
      expect(out.frames).toHaveLength(0);
    });
  });

  it('rejects a record that claims an impossible length instead of allocating for it', async () => {
    await withTempDir(async (dir) => {
      const good = pcapFile({ linkType: 1, records: [{ sec: 1, frac: 0, frame: frame('one') }] });
      const garbage = Buffer.alloc(16, 0xff);
      const out = await readBytes(dir, 'garbage.pcap', Buffer.concat([good, garbage]));
      expect(out.error).toBeInstanceOf(CaptureFormatError);
      expect((out.error as CaptureFormatError).context.byteOffset).toBe(good.length);
      expect(out.frames).toHaveLength(1);
    });
  });
});
