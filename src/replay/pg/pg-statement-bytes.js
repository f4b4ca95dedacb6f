// A recorded statement's messages as the sending threads write them (pg-send-worker.js). Plain JavaScript, as the
// threads are.
import { serialize } from 'pg-protocol';

const QUERY = 0x51; // 'Q'
const PARSE = 0x50; // 'P'
const NO_BYTES = Buffer.alloc(0);

/** Structured cloning turns a Buffer into a plain Uint8Array; pg-protocol binds only a Buffer as binary. */
const asParam = (/** @type {string | Uint8Array | null} */ value) => (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value);

/**
 * A statement's messages, written before the clock starts: a send only puts its tag in front of the text. Written
 * for each send with pg-protocol's serializer (five messages and their concatenation), they cost the sending thread
 * more than reading the answer.
 */
export class StatementBytes {
  /** @param {'simple' | 'extended'} kind @param {string} text @param {(string | Uint8Array | null)[]} params */
  constructor(kind, text, params) {
    this.kind = kind;
    this.text = Buffer.from(text, 'utf8');
    // Bind (the recorded parameters; text, or binary for bytes), Describe the portal, Execute, Sync: as node-postgres
    // sends an unnamed extended query.
    this.tail = kind === 'simple' ? NO_BYTES : Buffer.concat([serialize.bind({ values: params.map(asParam) }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]);
  }

  /**
   * The bytes of one send: a simple Query, or an unnamed Parse (no parameter types) and the rest, with `tag` (ASCII)
   * in front of the text.
   * @param {string} tag
   */
  withTag(tag) {
    const textLength = tag.length + this.text.length + 1;
    const parseLength = this.kind === 'simple' ? 4 + textLength : 4 + 1 + textLength + 2;
    const bytes = Buffer.allocUnsafe(1 + parseLength + this.tail.length);
    bytes[0] = this.kind === 'simple' ? QUERY : PARSE;
    bytes.writeInt32BE(parseLength, 1);
    let at = 5;
    if (this.kind === 'extended') bytes[at++] = 0; // the unnamed statement
    at += bytes.write(tag, at, 'latin1');
    at += this.text.copy(bytes, at);
    bytes[at++] = 0;
    if (this.kind === 'extended') {
      bytes.writeInt16BE(0, at);
      at += 2;
    }
    this.tail.copy(bytes, at);
    return bytes;
  }
}
