import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureFile } from '../../src/capture/capture-reader.ts';
import { FrameDecoder } from '../../src/capture/frame-decoder.ts';
import type { DecodeStats } from '../../src/capture/decode-stats.ts';
import type { UdpDatagram } from '../../src/capture/udp-datagram.ts';

export interface FrameRecord {
  frameNo: number;
  tsSec: number;
  tsFracNs: number;
  linkType: number;
  capturedBytes: number;
  originalBytes: number;
  bytes: Buffer;
}

export interface ReadOutcome {
  frames: FrameRecord[];
  datagrams: UdpDatagram[];
  stats: DecodeStats;
  format?: string;
  error?: unknown;
}

/** Reads a capture file through the real reader and decoder, keeping copies of what they hand out. */
export async function readAll(path: string, ports?: number[]): Promise<ReadOutcome> {
  const frames: FrameRecord[] = [];
  const datagrams: UdpDatagram[] = [];
  const decoder = new FrameDecoder((d) => datagrams.push({ ...d, payload: Buffer.from(d.payload) }), {
    ...(ports !== undefined && { ports: new Set(ports) }),
  });
  const outcome: Partial<ReadOutcome> = {};
  try {
    outcome.format = await readCaptureFile(path, (frame) => {
      frames.push({
        frameNo: frame.frameNo,
        tsSec: frame.tsSec,
        tsFracNs: frame.tsFracNs,
        linkType: frame.linkType,
        capturedBytes: frame.capturedBytes,
        originalBytes: frame.originalBytes,
        bytes: Buffer.from(frame.bytes.subarray(frame.offset, frame.offset + frame.capturedBytes)),
      });
      decoder.decode(frame);
    });
  } catch (error) {
    outcome.error = error;
  }
  return { ...outcome, frames, datagrams, stats: decoder.finish() };
}

/** Writes bytes to `dir/name` and reads them back. */
export async function readBytes(dir: string, name: string, bytes: Uint8Array, ports?: number[]): Promise<ReadOutcome> {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return readAll(path, ports);
}
