/** One HTTP/1.x message read off a byte stream: its start line, headers in order, and body bytes as sent. */
export interface Http1Message {
  /** Capture time (ns) of the segment that carried its first byte, and of the one that completed it. */
  startTsNs: bigint;
  endTsNs: bigint;
  /** Request: method, target, version. Response: version, status, reason. */
  startLine: [string, string, string];
  headers: [string, string][];
  /** The body as it went over the wire, less chunked framing (a gzip body stays gzip). */
  body: Uint8Array;
}

/** A stream that is not HTTP/1.x where a message should start, or a message that breaks its own framing. */
export class Http1FramingError extends Error {}

/** Headers larger than this are not HTTP any server would take: the stream is not HTTP, or is damaged. */
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = 0x0d0a;
const METHOD = /^[A-Z]{3,10}$/;

type BodyFraming = { kind: 'none' } | { kind: 'length'; left: number } | { kind: 'chunked' } | { kind: 'close' };

/**
 * Reads HTTP/1.x messages of one direction of a connection as its bytes arrive: requests, or responses (then
 * `bodyless` tells whether the next response is to a HEAD request, which has no body whatever its headers say).
 * Bodies are framed by Content-Length, chunked transfer coding, or (responses) the connection's end. A `101 Switching
 * Protocols` answer, and a request asking to upgrade, end HTTP on this direction: the bytes after them are held until
 * `handOff` gives them to the protocol that follows (or `resume` reads them as HTTP again: the upgrade was refused).
 */
export class Http1Parser {
  private readonly queue = new ByteQueue();
  private head: { startTsNs: bigint; startLine: [string, string, string]; headers: [string, string][] } | undefined;
  private framing: BodyFraming = { kind: 'none' };
  private body: Uint8Array[] = [];
  private bodyBytes = 0;
  private firstByteTsNs: bigint | undefined;
  private lastTsNs = 0n;
  private upgraded = false;
  private afterUpgrade: ((bytes: Uint8Array, tsNs: bigint) => void) | undefined;

  constructor(
    private readonly kind: 'request' | 'response',
    private readonly onMessage: (message: Http1Message) => void,
    private readonly bodyless: () => boolean = () => false,
  ) {}

  /** Bytes in order; throws Http1FramingError when they cannot be HTTP/1.x. */
  push(bytes: Uint8Array, tsNs: bigint): void {
    if (bytes.length === 0) return;
    if (this.afterUpgrade !== undefined) {
      this.afterUpgrade(bytes, tsNs);
      return;
    }
    this.firstByteTsNs ??= tsNs;
    this.lastTsNs = tsNs;
    this.queue.push(bytes);
    while (this.step()) {
      // each step consumes a head, a body piece or a whole message
    }
  }

  /** Whether an upgrade ended HTTP on this direction. */
  get isUpgraded(): boolean {
    return this.upgraded;
  }

  /** The upgrade went through: every byte after it, held and to come, goes to `next`. */
  handOff(next: (bytes: Uint8Array, tsNs: bigint) => void): void {
    this.afterUpgrade = next;
    if (this.queue.length > 0) next(this.queue.take(this.queue.length), this.lastTsNs);
  }

  /** The upgrade was refused: the bytes held after the request are HTTP again. */
  resume(): void {
    if (!this.upgraded || this.afterUpgrade !== undefined) return;
    this.upgraded = false;
    while (this.step()) {
      // as in push
    }
  }

  /** The connection ended: a response read to its close is complete; anything else half-read was cut short. */
  end(): 'clean' | 'cut' {
    if (this.upgraded) return 'clean';
    if (this.head !== undefined && this.framing.kind === 'close') {
      this.body.push(this.queue.take(this.queue.length));
      this.complete();
      return 'clean';
    }
    return this.head === undefined && this.queue.length === 0 ? 'clean' : 'cut';
  }

  /** Whether a message has begun and not ended. */
  get inMessage(): boolean {
    return this.head !== undefined || this.queue.length > 0;
  }

  private step(): boolean {
    if (this.head === undefined) return this.upgraded ? false : this.readHead();
    switch (this.framing.kind) {
      case 'length': {
        const piece = this.queue.take(Math.min(this.framing.left, this.queue.length));
        this.addBody(piece);
        this.framing.left -= piece.length;
        if (this.framing.left > 0) return false;
        this.complete();
        return true;
      }
      case 'chunked':
        return this.readChunk();
      case 'close':
        this.addBody(this.queue.take(this.queue.length));
        return false;
      case 'none':
        this.complete();
        return true;
    }
  }

  private readHead(): boolean {
    const end = this.queue.indexOf4(MAX_HEAD_BYTES);
    if (end < 0) {
      if (this.queue.length >= MAX_HEAD_BYTES) throw new Http1FramingError(`no end of headers in the first ${MAX_HEAD_BYTES} bytes of a ${this.kind}`);
      return false;
    }
    const text = new TextDecoder('latin1').decode(this.queue.take(end + 4)).slice(0, end);
    const [first = '', ...lines] = text.split('\r\n');
    const startLine = this.parseStartLine(first);
    const headers: [string, string][] = [];
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Http1FramingError(`a ${this.kind} header line without a name: "${line.slice(0, 40)}"`);
      headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
    }
    this.head = { startTsNs: this.firstByteTsNs ?? this.lastTsNs, startLine, headers };
    this.framing = this.framingOf(startLine, headers);
    return true;
  }

  private parseStartLine(line: string): [string, string, string] {
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    if (this.kind === 'request') {
      const [method, target, version] = [line.slice(0, first), line.slice(first + 1, second), line.slice(second + 1)];
      if (first <= 0 || second <= first || !METHOD.test(method) || !version.startsWith('HTTP/1.')) throw new Http1FramingError(`not an HTTP/1.x request line: "${line.slice(0, 60)}"`);
      return [method, target, version];
    }
    const version = line.slice(0, first);
    const status = second < 0 ? line.slice(first + 1) : line.slice(first + 1, second);
    if (first <= 0 || !version.startsWith('HTTP/1.') || !/^\d{3}$/.test(status)) throw new Http1FramingError(`not an HTTP/1.x status line: "${line.slice(0, 60)}"`);
    return [version, status, second < 0 ? '' : line.slice(second + 1)];
  }

  private framingOf(startLine: [string, string, string], headers: readonly [string, string][]): BodyFraming {
    const header = (name: string): string | undefined => headers.find(([n]) => n.toLowerCase() === name)?.[1];
    if (this.kind === 'response') {
      const status = Number(startLine[1]);
      if (status === 101) this.upgraded = true;
      if ((status >= 100 && status < 200) || status === 204 || status === 304 || this.bodyless()) return { kind: 'none' };
    } else if (header('upgrade') !== undefined && header('connection')?.toLowerCase().split(',').some((option) => option.trim() === 'upgrade') === true) {
      // What follows the request is the new protocol if the server agrees (101), HTTP again if it does not.
      this.upgraded = true;
    }
    if (header('transfer-encoding')?.toLowerCase().split(',').some((coding) => coding.trim() === 'chunked') === true) return { kind: 'chunked' };
    const length = header('content-length');
    if (length !== undefined) {
      const bytes = Number(length.split(',')[0]);
      if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Http1FramingError(`a ${this.kind} with Content-Length "${length}"`);
      return bytes === 0 ? { kind: 'none' } : { kind: 'length', left: bytes };
    }
    return this.kind === 'request' ? { kind: 'none' } : { kind: 'close' };
  }

  /** One chunk (size line, data, CRLF), or the last chunk and its trailers; false when more bytes are needed. */
  private readChunk(): boolean {
    const lineEnd = this.queue.indexOfCrlf(1024);
    if (lineEnd < 0) {
      if (this.queue.length >= 1024) throw new Http1FramingError('a chunk size line longer than 1 KB');
      return false;
    }
    const sizeText = new TextDecoder('latin1').decode(this.queue.peek(lineEnd)).split(';')[0]?.trim() ?? '';
    const size = Number.parseInt(sizeText, 16);
    if (!/^[0-9a-fA-F]+$/.test(sizeText) || !Number.isSafeInteger(size)) throw new Http1FramingError(`a chunk size that is not hexadecimal: "${sizeText.slice(0, 20)}"`);
    if (size === 0) {
      // The last chunk, then trailer lines up to an empty one.
      const end = this.queue.indexOf4(MAX_HEAD_BYTES, lineEnd);
      const bare = this.queue.length >= lineEnd + 4 && this.queue.at(lineEnd + 2) === 0x0d && this.queue.at(lineEnd + 3) === 0x0a;
      if (bare) this.queue.take(lineEnd + 4);
      else if (end >= 0) this.queue.take(end + 4);
      else return false;
      this.complete();
      return true;
    }
    if (this.queue.length < lineEnd + 2 + size + 2) return false;
    this.queue.take(lineEnd + 2);
    this.addBody(this.queue.take(size));
    this.queue.take(2);
    return true;
  }

  private addBody(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.body.push(piece);
    this.bodyBytes += piece.length;
  }

  private complete(): void {
    const head = this.head;
    if (head === undefined) return;
    const body = this.body.length === 1 ? (this.body[0] as Uint8Array) : Buffer.concat(this.body, this.bodyBytes);
    this.onMessage({ ...head, endTsNs: this.lastTsNs, body });
    this.head = undefined;
    this.body = [];
    this.bodyBytes = 0;
    this.framing = { kind: 'none' };
    this.firstByteTsNs = this.queue.length > 0 ? this.lastTsNs : undefined;
  }
}

/** Bytes received in pieces, read from the front without copying more than what is read. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  at(index: number): number | undefined {
    let i = index;
    for (const chunk of this.chunks) {
      if (i < chunk.length) return chunk[i];
      i -= chunk.length;
    }
    return undefined;
  }

  /** The first `n` bytes, as one array (joined only when they span pieces). */
  peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, Math.min(n, this.length)).subarray(0, n);
  }

  take(n: number): Uint8Array {
    const taken = this.peek(n);
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[0] as Uint8Array;
      if (chunk.length <= left) {
        this.chunks.shift();
        left -= chunk.length;
      } else {
        this.chunks[0] = chunk.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    // A view into the capture's read buffers, which readers never reuse: kept as it is.
    return taken;
  }

  /** Index of the first CRLF CRLF at or after `from`, within the first `limit` bytes; -1 when none. */
  indexOf4(limit: number, from = 0): number {
    const bytes = this.peek(Math.min(this.length, limit));
    for (let i = from; i + 3 < bytes.length; i++) {
      if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a && bytes[i + 2] === 0x0d && bytes[i + 3] === 0x0a) return i;
    }
    return -1;
  }

  indexOfCrlf(limit: number): number {
    const bytes = this.peek(Math.min(this.length, limit));
    for (let i = 0; i + 1 < bytes.length; i++) if (((bytes[i] as number) << 8) + (bytes[i + 1] as number) === CRLF) return i;
    return -1;
  }
}
