/** Where a window's bytes come from: a file, or a pipe such as `tcpdump -w -`. */
export interface ByteSource {
  /** Reads up to `length` bytes into `buffer` at `offset`; 0 means the source has ended. */
  read(buffer: Uint8Array, offset: number, length: number): Promise<number>;
  /** Total bytes, when known in advance (a file); a record that would end past it is known cut short at once. */
  readonly sizeBytes?: number;
}

/** Bytes read from disk at a time: large enough that a read costs little per frame, small enough to stay flat. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * A sliding window over a file, read in chunks. Parsers look at `bytes[pos..end)` synchronously and only `await fill`
 * when a record crosses the end of the window. A full buffer is replaced, with the unread tail copied to the front of
 * the next: by a fresh one, so slices handed out stay valid as long as someone holds them; or, with `reuseBuffers`, by
 * the buffer before it, for consumers that copy what they keep before the next fill. A fresh 4 MB buffer per read
 * costs its pages faulted in and zeroed: on this project's virtual machine reading a million frames took 0.45 s
 * that way and 0.09 s with two buffers in turn.
 */
export class ByteWindow {
  // A plain Uint8Array, not a Buffer: subarray() on a Buffer builds a FastBuffer, several times slower per frame.
  bytes: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.bytes.buffer, this.bytes.byteOffset, 0);
  /** Next unread byte in `bytes`. */
  pos = 0;
  /** End of valid bytes in `bytes`. */
  end = 0;
  /** File offset of `bytes[0]`. */
  private baseOffset = 0;
  private eof = false;
  private readonly onRead: ((bytesRead: number) => void) | undefined;
  /** The buffer before this one, to be filled again when this one is full (`reuseBuffers`). */
  private spare: Uint8Array | undefined;
  private readonly reuseBuffers: boolean;

  constructor(
    private readonly source: ByteSource,
    options: { onRead?: ((bytesRead: number) => void) | undefined; reuseBuffers?: boolean } = {},
  ) {
    this.onRead = options.onRead;
    this.reuseBuffers = options.reuseBuffers ?? false;
  }

  get available(): number {
    return this.end - this.pos;
  }

  /** File offset of the next unread byte. */
  get fileOffset(): number {
    return this.baseOffset + this.pos;
  }

  /** Reads until at least `minBytes` are unread or the file ends; returns how many are unread. */
  async fill(minBytes: number): Promise<number> {
    // A source of known size is never asked for more than it has: a record claiming more is cut short, not a reason
    // to allocate what it claims.
    const size = this.source.sizeBytes;
    const wanted = size === undefined ? minBytes : Math.min(minBytes, Math.max(0, size - this.fileOffset));
    if (this.available >= wanted || this.eof) return this.available;
    if (this.bytes.length - this.pos < wanted) this.reallocate(wanted);
    while (this.end - this.pos < wanted) {
      const bytesRead = await this.source.read(this.bytes, this.end, this.bytes.length - this.end);
      if (bytesRead === 0) {
        this.eof = true;
        break;
      }
      this.end += bytesRead;
      this.onRead?.(bytesRead);
    }
    return this.available;
  }

  // Appending after `end` never touches bytes already handed out, so a buffer is only replaced when it is full.
  private reallocate(minBytes: number): void {
    const size = Math.max(READ_CHUNK_BYTES, minBytes);
    const spare = this.spare;
    const next = spare !== undefined && spare.length >= size ? spare : new Uint8Array(size);
    if (this.reuseBuffers && this.bytes.length > 0) this.spare = this.bytes;
    next.set(this.bytes.subarray(this.pos, this.end));
    this.baseOffset += this.pos;
    this.end -= this.pos;
    this.pos = 0;
    this.bytes = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }
}
