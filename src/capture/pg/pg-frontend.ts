/** A message a client sends a PostgreSQL server (protocol 3.0), as far as a recording needs it. */
export type FrontendMessage =
  | { type: 'startup'; parameters: Record<string, string> }
  | { type: 'sslRequest' }
  | { type: 'gssEncRequest' }
  | { type: 'cancelRequest' }
  | { type: 'query'; text: string }
  | { type: 'parse'; statement: string; text: string; paramTypes: number[] }
  | { type: 'bind'; portal: string; statement: string; paramFormats: number[]; params: (Buffer | null)[] }
  | { type: 'execute'; portal: string; maxRows: number }
  | { type: 'describe' | 'close'; target: 'S' | 'P'; name: string }
  | { type: 'sync' | 'flush' | 'terminate' | 'copyDone' }
  | { type: 'copyData'; data: Buffer }
  | { type: 'copyFail'; reason: string }
  | { type: 'password' }
  | { type: 'other'; code: string };

/** Bytes that are not the frontend protocol: the stream is damaged or is not PostgreSQL. */
export class PgFramingError extends Error {}

const PROTOCOL_3 = 196_608;
const SSL_REQUEST = 80_877_103;
const CANCEL_REQUEST = 80_877_102;
const GSSENC_REQUEST = 80_877_104;
/** A message longer than this is not one a client sends (COPY data comes in pieces). */
const MAX_MESSAGE = 256 * 1024 * 1024;

/** Does a connection's first client bytes open a PostgreSQL session (a startup, SSL or GSS request)? */
export function looksLikePgStartup(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.readInt32BE(0);
  const code = view.readInt32BE(4);
  if (code === SSL_REQUEST || code === GSSENC_REQUEST || code === CANCEL_REQUEST) return length === 8 || length === 16;
  return code === PROTOCOL_3 && length > 8 && length < 10_000;
}

/**
 * Reads the messages a client sends, from its bytes in order: first the untyped startup packet (or an SSL, GSS or
 * cancel request before it), then typed messages (a type byte and a length). The library the project uses for the
 * server's side (pg-protocol) reads only what servers send, so this side is read here.
 */
export class FrontendReader {
  private pending: Buffer = Buffer.alloc(0);
  private startupDone = false;

  /** `onMessage` gets each message and its bytes as sent (a mirror sends them on unchanged). */
  constructor(private readonly onMessage: (message: FrontendMessage, raw: Buffer) => void) {}

  /** The session left the startup phase another way (the server refused SSL: a startup packet follows). */
  expectStartup(): void {
    this.startupDone = false;
  }

  push(bytes: Uint8Array): void {
    this.pending = this.pending.length === 0 ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.concat([this.pending, bytes]);
    let offset = 0;
    for (;;) {
      const read = this.startupDone ? this.readTyped(offset) : this.readStartup(offset);
      if (read === 0) break;
      offset += read;
    }
    this.pending = this.pending.subarray(offset);
  }

  /** Bytes of a message not yet complete (a connection that ends with some was cut short). */
  get leftover(): number {
    return this.pending.length;
  }

  private readStartup(offset: number): number {
    const b = this.pending;
    if (b.length - offset < 8) return 0;
    const length = b.readInt32BE(offset);
    if (length < 8 || length > 10_000) throw new PgFramingError(`a startup packet of ${length} bytes`);
    if (b.length - offset < length) return 0;
    const code = b.readInt32BE(offset + 4);
    const raw = b.subarray(offset, offset + length);
    if (code === SSL_REQUEST) this.onMessage({ type: 'sslRequest' }, raw);
    else if (code === GSSENC_REQUEST) this.onMessage({ type: 'gssEncRequest' }, raw);
    else if (code === CANCEL_REQUEST) this.onMessage({ type: 'cancelRequest' }, raw);
    else if (code === PROTOCOL_3) {
      const parts = b.toString('utf8', offset + 8, offset + length).split('\u0000');
      const parameters: Record<string, string> = {};
      for (let i = 0; i + 1 < parts.length; i += 2) if (parts[i] !== '') parameters[parts[i] as string] = parts[i + 1] as string;
      this.onMessage({ type: 'startup', parameters }, raw);
      this.startupDone = true;
    } else throw new PgFramingError(`a startup packet asking for protocol ${code >> 16}.${code & 0xffff}, not 3.0`);
    return length;
  }

  private readTyped(offset: number): number {
    const b = this.pending;
    if (b.length - offset < 5) return 0;
    const code = String.fromCharCode(b[offset] as number);
    const length = b.readInt32BE(offset + 1);
    if (length < 4 || length > MAX_MESSAGE) throw new PgFramingError(`a '${code}' message of ${length} bytes`);
    if (b.length - offset < 1 + length) return 0;
    const body = b.subarray(offset + 5, offset + 1 + length);
    this.onMessage(decode(code, body), b.subarray(offset, offset + 1 + length));
    return 1 + length;
  }
}

function decode(code: string, body: Buffer): FrontendMessage {
  const reader = new BodyReader(body, code);
  switch (code) {
    case 'Q':
      return { type: 'query', text: reader.cstring() };
    case 'P': {
      const statement = reader.cstring();
      const text = reader.cstring();
      const count = reader.int16();
      const paramTypes = Array.from({ length: count }, () => reader.int32());
      return { type: 'parse', statement, text, paramTypes };
    }
    case 'B': {
      const portal = reader.cstring();
      const statement = reader.cstring();
      const paramFormats = Array.from({ length: reader.int16() }, () => reader.int16());
      const params = Array.from({ length: reader.int16() }, () => {
        const size = reader.int32();
        return size < 0 ? null : reader.bytes(size);
      });
      return { type: 'bind', portal, statement, paramFormats, params };
    }
    case 'E':
      return { type: 'execute', portal: reader.cstring(), maxRows: reader.int32() };
    case 'D':
    case 'C': {
      const target = reader.byte();
      return { type: code === 'D' ? 'describe' : 'close', target: target === 'P' ? 'P' : 'S', name: reader.cstring() };
    }
    case 'S':
      return { type: 'sync' };
    case 'H':
      return { type: 'flush' };
    case 'X':
      return { type: 'terminate' };
    case 'd':
      // A view of a buffer the reader reuses: whoever keeps it copies it.
      return { type: 'copyData', data: body };
    case 'c':
      return { type: 'copyDone' };
    case 'f':
      return { type: 'copyFail', reason: reader.cstring() };
    case 'p':
      return { type: 'password' };
    default:
      return { type: 'other', code };
  }
}

class BodyReader {
  private at = 0;

  constructor(
    private readonly body: Buffer,
    private readonly code: string,
  ) {}

  private need(n: number): void {
    if (this.at + n > this.body.length) throw new PgFramingError(`a '${this.code}' message shorter than its fields`);
  }

  byte(): string {
    this.need(1);
    return String.fromCharCode(this.body[this.at++] as number);
  }

  int16(): number {
    this.need(2);
    const value = this.body.readInt16BE(this.at);
    this.at += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.body.readInt32BE(this.at);
    this.at += 4;
    return value;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const value = this.body.subarray(this.at, this.at + n);
    this.at += n;
    return value;
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.at);
    if (end < 0) throw new PgFramingError(`a '${this.code}' message with an unterminated string`);
    const value = this.body.toString('utf8', this.at, end);
    this.at = end + 1;
    return value;
  }
}
