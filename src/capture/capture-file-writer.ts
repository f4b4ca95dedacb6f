import { closeSync, openSync, writeSync } from 'node:fs';
import { PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS } from './pcap-reader.ts';

const BUFFER_BYTES = 1024 * 1024;
const NS_PER_SECOND = 1_000_000_000n;
const DEFAULT_SNAP_LENGTH = 262_144;

export interface CaptureFileWriterOptions {
  format: 'pcap' | 'pcap-nsec' | 'pcapng';
  /** LINKTYPE_* of every frame (pcapng: of its one interface). Ethernet by default. */
  linkType?: number;
  /** Byte order of headers; little-endian by default. */
  bigEndian?: boolean;
  snapLength?: number;
}

/**
 * Writes a pcap, nanosecond pcap or pcapng file (one section, one interface, enhanced packet blocks), buffered and
 * synchronous: it is for generated fixtures and benchmarks, where simplicity beats overlapping I/O.
 */
export class CaptureFileWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private readonly le: boolean;
  private readonly format: CaptureFileWriterOptions['format'];
  private readonly snapLength: number;
  frames = 0;

  constructor(path: string, options: CaptureFileWriterOptions) {
    this.fd = openSync(path, 'w');
    this.le = options.bigEndian !== true;
    this.format = options.format;
    this.snapLength = options.snapLength ?? DEFAULT_SNAP_LENGTH;
    const linkType = options.linkType ?? 1;
    if (this.format === 'pcapng') this.writePcapngHeader(linkType);
    else this.writePcapHeader(linkType);
  }

  /** Adds one frame captured at `tsNs` (ns since the epoch); the snap length cuts it as a capture would. */
  add(tsNs: bigint, frame: Uint8Array): void {
    const captured = Math.min(frame.length, this.snapLength);
    const sec = Number(tsNs / NS_PER_SECOND);
    const fracNs = Number(tsNs % NS_PER_SECOND);
    if (this.format === 'pcapng') {
      const padded = (captured + 3) & ~3;
      const blockBytes = 32 + padded;
      const block = this.reserve(blockBytes);
      const micros = tsNs / 1000n;
      this.u32(block, 6);
      this.u32(block + 4, blockBytes);
      this.u32(block + 8, 0);
      this.u32(block + 12, Number(micros >> 32n));
      this.u32(block + 16, Number(micros & 0xffffffffn));
      this.u32(block + 20, captured);
      this.u32(block + 24, frame.length);
      this.buffer.set(frame.subarray(0, captured), block + 28);
      this.buffer.fill(0, block + 28 + captured, block + 28 + padded);
      this.u32(block + 28 + padded, blockBytes);
    } else {
      const record = this.reserve(16 + captured);
      this.u32(record, sec);
      this.u32(record + 4, this.format === 'pcap-nsec' ? fracNs : Math.floor(fracNs / 1000));
      this.u32(record + 8, captured);
      this.u32(record + 12, frame.length);
      this.buffer.set(frame.subarray(0, captured), record + 16);
    }
    this.frames++;
  }

  close(): void {
    this.drain();
    closeSync(this.fd);
  }

  private writePcapHeader(linkType: number): void {
    const at = this.reserve(24);
    this.u32(at, this.format === 'pcap-nsec' ? PCAP_MAGIC_NANOS : PCAP_MAGIC_MICROS);
    this.u16(at + 4, 2);
    this.u16(at + 6, 4);
    this.u32(at + 8, 0);
    this.u32(at + 12, 0);
    this.u32(at + 16, this.snapLength);
    this.u32(at + 20, linkType);
  }

  private writePcapngHeader(linkType: number): void {
    const shb = this.reserve(28);
    this.u32(shb, 0x0a0d0d0a);
    this.u32(shb + 4, 28);
    this.u32(shb + 8, 0x1a2b3c4d);
    this.u16(shb + 12, 1);
    this.u16(shb + 14, 0);
    this.u32(shb + 16, 0xffffffff);
    this.u32(shb + 20, 0xffffffff);
    this.u32(shb + 24, 28);
    // Interface description with if_tsresol = 6 (microseconds), stated explicitly.
    const idb = this.reserve(32);
    this.u32(idb, 1);
    this.u32(idb + 4, 32);
    this.u16(idb + 8, linkType);
    this.u16(idb + 10, 0);
    this.u32(idb + 12, this.snapLength);
    this.u16(idb + 16, 9);
    this.u16(idb + 18, 1);
    this.u32(idb + 20, 0);
    this.buffer[idb + 20] = 6;
    this.u32(idb + 24, 0);
    this.u32(idb + 28, 32);
  }

  private reserve(bytes: number): number {
    if (this.used + bytes > this.buffer.length) this.drain();
    if (bytes > this.buffer.length) throw new Error(`frame of ${bytes} bytes is larger than the write buffer`);
    const at = this.used;
    this.used += bytes;
    return at;
  }

  private drain(): void {
    let written = 0;
    while (written < this.used) written += writeSync(this.fd, this.buffer, written, this.used - written);
    this.used = 0;
  }

  private u32(at: number, value: number): void {
    if (this.le) this.buffer.writeUInt32LE(value >>> 0, at);
    else this.buffer.writeUInt32BE(value >>> 0, at);
  }

  private u16(at: number, value: number): void {
    if (this.le) this.buffer.writeUInt16LE(value, at);
    else this.buffer.writeUInt16BE(value, at);
  }
}
