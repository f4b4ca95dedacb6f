import { CaptureFormatError, CaptureTruncatedError } from '../core/errors.ts';
import type { ByteWindow } from './byte-window.ts';
import { createFrameView, type CaptureFormat, type FrameHandler } from './frame.ts';

/** Classic pcap global header (pcap-savefile(5)). */
export const PCAP_GLOBAL_HEADER_BYTES = 24;
const PCAP_RECORD_HEADER_BYTES = 16;
/** Alexey Kuznetzov's modified pcap adds ifindex, protocol, pkt_type and padding to every record header. */
const PCAP_MODIFIED_RECORD_HEADER_BYTES = 24;
/** No link type carries frames this large (Wireshark's ceiling is 256 MiB for D-Bus); beyond it a header is garbage. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024;

export const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOS = 0xa1b23c4d;
export const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;

export interface PcapHeader {
  littleEndian: boolean;
  nanosecond: boolean;
  recordHeaderBytes: number;
  linkType: number;
  snapLength: number;
}

/** Reads the 24-byte global header at the window's position, or returns undefined if the magic is not pcap's. */
export function parsePcapHeader(window: ByteWindow): PcapHeader | undefined {
  const { view, pos } = window;
  const magicLe = view.getUint32(pos, true);
  const magicBe = view.getUint32(pos, false);
  let littleEndian: boolean;
  let magic: number;
  if (magicLe === PCAP_MAGIC_MICROS || magicLe === PCAP_MAGIC_NANOS || magicLe === PCAP_MAGIC_MODIFIED) {
    littleEndian = true;
    magic = magicLe;
  } else if (magicBe === PCAP_MAGIC_MICROS || magicBe === PCAP_MAGIC_NANOS || magicBe === PCAP_MAGIC_MODIFIED) {
    littleEndian = false;
    magic = magicBe;
  } else {
    return undefined;
  }
  return {
    littleEndian,
    nanosecond: magic === PCAP_MAGIC_NANOS,
    recordHeaderBytes: magic === PCAP_MAGIC_MODIFIED ? PCAP_MODIFIED_RECORD_HEADER_BYTES : PCAP_RECORD_HEADER_BYTES,
    snapLength: view.getUint32(pos + 16, littleEndian),
    // The link-type field's upper 16 bits carry flags (FCS length and the like): the type is the low 16 bits.
    linkType: view.getUint32(pos + 20, littleEndian) & 0xffff,
  };
}

export function pcapFormat(header: PcapHeader): CaptureFormat {
  return header.nanosecond ? 'pcap-nsec' : 'pcap';
}

/**
 * Streams every record of a classic pcap file to `onFrame`. Throws `CaptureTruncatedError` when the file ends inside a
 * record, after every complete record before it has been handed out.
 */
export async function readPcapRecords(
  window: ByteWindow,
  file: string,
  onFrame: FrameHandler,
): Promise<number> {
  const header = parsePcapHeader(window);
  if (header === undefined) throw new CaptureFormatError(`${file}: not a pcap file`, { file, byteOffset: 0 });
  window.pos += PCAP_GLOBAL_HEADER_BYTES;
  const { littleEndian: le, recordHeaderBytes } = header;
  const fracToNs = header.nanosecond ? 1 : 1000;
  const frame = createFrameView();
  frame.linkType = header.linkType;
  let frames = 0;
  for (;;) {
    if (window.available < recordHeaderBytes && (await window.fill(recordHeaderBytes)) < recordHeaderBytes) {
      if (window.available === 0) return frames;
      throw truncatedAt(file, window.fileOffset, frames, `a ${recordHeaderBytes}-byte record header`);
    }
    const { view, pos } = window;
    const capturedBytes = view.getUint32(pos + 8, le);
    if (capturedBytes > MAX_FRAME_BYTES) {
      throw new CaptureFormatError(
        `${file}: record at byte offset ${window.fileOffset} claims ${capturedBytes} captured bytes, more than any frame can hold (after ${frames} frames)`,
        { file, byteOffset: window.fileOffset },
      );
    }
    const recordBytes = recordHeaderBytes + capturedBytes;
    if (window.available < recordBytes && (await window.fill(recordBytes)) < recordBytes) {
      throw truncatedAt(file, window.fileOffset, frames, `a ${recordBytes}-byte record`);
    }
    const start = window.pos;
    frames++;
    frame.bytes = window.bytes;
    frame.offset = start + recordHeaderBytes;
    frame.capturedBytes = capturedBytes;
    frame.originalBytes = Math.max(window.view.getUint32(start + 12, le), capturedBytes);
    // Seconds are unsigned 32-bit: files from after 2038 (up to 2106) keep their dates.
    frame.tsSec = window.view.getUint32(start, le);
    frame.tsFracNs = window.view.getUint32(start + 4, le) * fracToNs;
    frame.frameNo = frames;
    frame.fileOffset = window.fileOffset;
    window.pos += recordBytes;
    onFrame(frame);
  }
}

export function truncatedAt(file: string, byteOffset: number, frames: number, what: string): CaptureTruncatedError {
  return new CaptureTruncatedError(
    `${file}: file ends inside ${what} at byte offset ${byteOffset}; kept the ${frames} complete frames before it`,
    { file, byteOffset },
  );
}
