/**
 * Hand-built capture bytes for reader tests: every header field is set explicitly, so a test can produce the odd
 * layouts real files have (big-endian sections, several interfaces, simple and obsolete packet blocks, cut-short
 * records) without going through the writer under test.
 */

export class Bytes {
  private readonly parts: Buffer[] = [];
  constructor(private readonly le = true) {}

  u8(value: number): this {
    this.parts.push(Buffer.from([value & 0xff]));
    return this;
  }

  u16(value: number): this {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(value);
    else b.writeUInt16BE(value);
    this.parts.push(b);
    return this;
  }

  u32(value: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(value >>> 0);
    else b.writeUInt32BE(value >>> 0);
    this.parts.push(b);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  pad4(): this {
    const length = this.length;
    if (length % 4 !== 0) this.parts.push(Buffer.alloc(4 - (length % 4)));
    return this;
  }

  get length(): number {
    return this.parts.reduce((sum, part) => sum + part.length, 0);
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export interface PcapRecord {
  sec: number;
  frac: number;
  frame: Uint8Array;
  originalBytes?: number;
}

export function pcapFile(options: { le?: boolean; nanos?: boolean; linkType: number; records: PcapRecord[] }): Buffer {
  const b = new Bytes(options.le ?? true);
  b.u32(options.nanos === true ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(options.linkType);
  for (const record of options.records) {
    b.u32(record.sec).u32(record.frac).u32(record.frame.length).u32(record.originalBytes ?? record.frame.length);
    b.raw(record.frame);
  }
  return b.build();
}

export interface PcapngInterface {
  linkType: number;
  snapLength?: number;
  /** if_tsresol byte; absent means the default (microseconds). */
  tsresol?: number;
}

export type PcapngBlock =
  | { kind: 'section'; interfaces: PcapngInterface[] }
  | { kind: 'epb'; interfaceId: number; units: bigint; frame: Uint8Array; originalBytes?: number }
  | { kind: 'spb'; frame: Uint8Array; originalBytes?: number }
  | { kind: 'opb'; interfaceId: number; units: bigint; frame: Uint8Array }
  | { kind: 'unknown'; type: number; body: Uint8Array };

function block(le: boolean, type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  return new Bytes(le).u32(type).u32(total).raw(body).u32(total).build();
}

/** A pcapng section (SHB + IDBs) followed by its packet blocks, in the given byte order. */
export function pcapngSection(le: boolean, blocks: PcapngBlock[]): Buffer {
  const out: Buffer[] = [];
  for (const item of blocks) {
    switch (item.kind) {
      case 'section': {
        out.push(block(le, 0x0a0d0d0a, new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff).build()));
        for (const iface of item.interfaces) {
          const body = new Bytes(le).u16(iface.linkType).u16(0).u32(iface.snapLength ?? 65535);
          if (iface.tsresol !== undefined) body.u16(9).u16(1).u8(iface.tsresol).pad4();
          body.u16(0).u16(0);
          out.push(block(le, 1, body.build()));
        }
        break;
      }
      case 'epb': {
        const body = new Bytes(le)
          .u32(item.interfaceId)
          .u32(Number(item.units >> 32n))
          .u32(Number(item.units & 0xffffffffn))
          .u32(item.frame.length)
          .u32(item.originalBytes ?? item.frame.length)
          .raw(item.frame)
          .pad4();
        out.push(block(le, 6, body.build()));
        break;
      }
      case 'spb':
        out.push(block(le, 3, new Bytes(le).u32(item.originalBytes ?? item.frame.length).raw(item.frame).pad4().build()));
        break;
      case 'opb': {
        const body = new Bytes(le)
          .u16(item.interfaceId)
          .u16(0)
          .u32(Number(item.units >> 32n))
          .u32(Number(item.units & 0xffffffffn))
          .u32(item.frame.length)
          .u32(item.frame.length)
          .raw(item.frame)
          .pad4();
        out.push(block(le, 2, body.build()));
        break;
      }
      case 'unknown':
        out.push(block(le, item.type, new Bytes(le).raw(item.body).pad4().build()));
        break;
    }
  }
  return Buffer.concat(out);
}
