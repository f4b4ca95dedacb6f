// What a replayed session reads of the server's answers: the framing of protocol v3 (a type byte and a length), and
// only the four messages a replay records (CommandComplete's tag, ErrorResponse's SQLSTATE, CopyInResponse and
// ReadyForQuery). Every other message (rows above all) is stepped over unread. pg-protocol's Parser decoded each row
// into JavaScript strings the replay threw away (measured, 16 sessions of primary-key lookups on one thread, nothing
// recorded: 25-27 µs of CPU a statement through the Parser, 17-21 µs through this). Plain JavaScript, as the sending
// threads are.

const COMMAND_COMPLETE = 0x43; // 'C'
const ERROR_RESPONSE = 0x45; // 'E'
const COPY_IN_RESPONSE = 0x47; // 'G'
const READY_FOR_QUERY = 0x5a; // 'Z'
const SQLSTATE_FIELD = 0x43; // 'C' among an ErrorResponse's fields

/** @typedef {{ commandComplete(tag: string): void, error(sqlstate: string | null): void, copyIn(): void, ready(): void }} AnswerEvents */

export class PgAnswerReader {
  /** @param {AnswerEvents} events */
  constructor(events) {
    this.events = events;
    /** A header split across reads. */
    this.head = Buffer.alloc(5);
    this.headHave = 0;
    /** Bytes of an unread message still to step over. */
    this.skip = 0;
    /** The body of a message read, when it is split across reads. @type {Buffer | null} */
    this.body = null;
    this.bodyHave = 0;
    this.bodyType = 0;
  }

  /**
   * Reads `length` bytes of `bytes` from the start. The bytes are not kept past the call (the socket reads every
   * session's answers into one buffer), only the pieces of a message split across reads.
   * @param {Buffer} bytes @param {number} length
   */
  read(bytes, length) {
    let at = 0;
    while (at < length) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, length - at);
        this.skip -= step;
        at += step;
        continue;
      }
      if (this.body !== null) {
        const step = Math.min(this.body.length - this.bodyHave, length - at);
        bytes.copy(this.body, this.bodyHave, at, at + step);
        this.bodyHave += step;
        at += step;
        if (this.bodyHave === this.body.length) {
          const body = this.body;
          this.body = null;
          this.message(this.bodyType, body, 0, body.length);
        }
        continue;
      }
      let type;
      let size;
      if (this.headHave === 0 && length - at >= 5) {
        type = /** @type {number} */ (bytes[at]);
        size = bytes.readInt32BE(at + 1) - 4;
        at += 5;
      } else {
        while (this.headHave < 5 && at < length) this.head[this.headHave++] = /** @type {number} */ (bytes[at++]);
        if (this.headHave < 5) return;
        this.headHave = 0;
        type = /** @type {number} */ (this.head[0]);
        size = this.head.readInt32BE(1) - 4;
      }
      if (type !== COMMAND_COMPLETE && type !== ERROR_RESPONSE && type !== COPY_IN_RESPONSE && type !== READY_FOR_QUERY) {
        this.skip = size;
      } else if (length - at >= size) {
        this.message(type, bytes, at, at + size);
        at += size;
      } else {
        this.body = Buffer.allocUnsafe(size);
        this.bodyHave = 0;
        this.bodyType = type;
      }
    }
  }

  /** @param {number} type @param {Buffer} bytes @param {number} start @param {number} end */
  message(type, bytes, start, end) {
    if (type === READY_FOR_QUERY) this.events.ready();
    else if (type === COMMAND_COMPLETE) this.events.commandComplete(bytes.toString('utf8', start, Math.max(start, end - 1)));
    else if (type === ERROR_RESPONSE) this.events.error(sqlstateOf(bytes, start, end));
    else this.events.copyIn();
  }
}

/** An ErrorResponse's fields are a code byte and a C string each, ended by a zero byte. @param {Buffer} bytes @param {number} start @param {number} end */
function sqlstateOf(bytes, start, end) {
  let at = start;
  while (at < end && bytes[at] !== 0) {
    const field = bytes[at];
    const stop = bytes.indexOf(0, at + 1);
    if (stop < 0 || stop >= end) return null;
    if (field === SQLSTATE_FIELD) return bytes.toString('latin1', at + 1, stop);
    at = stop + 1;
  }
  return null;
}
