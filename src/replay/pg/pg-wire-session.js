// One replayed PostgreSQL session's connection, used by the sending threads (pg-send-worker.js). Plain JavaScript, as
// the threads are; the types are checked from JSDoc.
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';

/**
 * What the database answered a statement; `copyRefused`: the statement was a COPY ... FROM STDIN whose data the
 * recording does not hold, refused with CopyFail instead of fed (so its answer says nothing about the data).
 * @typedef {{ tag: string | null, rowCount: number | null, sqlstate: string | null, failed: boolean, copyRefused: boolean }} PgAnswer
 */

/** CopyData messages of at most this many bytes (PostgreSQL's own clients send 64 KB or less). */
const COPY_PIECE = 65536;

/** Why a COPY's data is refused when the recording has none: the statement fails, as it should, and the session goes on. */
const COPY_NOT_RECORDED = 'parity: the data of this COPY was not recorded';

/** `COMMAND [OID] [ROWS]`, read as node-postgres reads a CommandComplete. */
const COMMAND_TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;

/** The comment a replayed statement starts with, as sqlcommenter tags statements: each tap's record names its send. */
export function replayTag(/** @type {number} */ sendNo) {
  return `/*parity_send=${sendNo}*/ `;
}

/**
 * node-postgres opens the connection (TLS, startup, every authentication method a database may ask for); then the
 * session writes each statement's messages itself with pg-protocol's serializer and reads only what a replay records
 * (command tags, errors, ReadyForQuery) with pg-protocol's parser. Through node-postgres every statement built a
 * result object and decoded each row into JavaScript values the replay then threw away.
 */
export class PgWireSession {
  /** @param {pg.Client} client @param {import('node:net').Socket} socket */
  constructor(client, socket) {
    this.client = client;
    this.socket = socket;
    this.parser = new Parser();
    /** @type {((answer: PgAnswer) => void) | undefined} */
    this.pending = undefined;
    /** @type {string | null} */
    this.tag = null;
    /** @type {string | null} */
    this.sqlstate = null;
    /** The data the statement in flight feeds a COPY ... FROM STDIN, if it is one. @type {Uint8Array | null} */
    this.copyData = null;
    this.copyRefused = false;
    /** @type {'simple' | 'extended'} */
    this.kind = 'simple';
    this.broken = false;
    // node-postgres's own reader is detached: from here on this session reads the socket.
    socket.removeAllListeners('data');
    socket.on('data', (/** @type {Buffer} */ buffer) => this.parser.parse(buffer, (message) => this.onMessage(message)));
    socket.on('close', () => this.fail());
    socket.on('error', () => this.fail());
  }

  /** @param {{ host: string, port: number }} target @param {string} user @param {string} database */
  static async open(target, user, database) {
    const client = new pg.Client({ host: target.host, port: target.port, user, database });
    client.on('error', () => undefined);
    await client.connect();
    const socket = /** @type {{ connection: { stream: import('node:net').Socket } }} */ (/** @type {unknown} */ (client)).connection.stream;
    return new PgWireSession(client, socket);
  }

  /**
   * Sends one statement; resolves with its answer once the database is ready for the next.
   * @param {'simple' | 'extended'} kind @param {string} text @param {(string | Buffer | null)[]} params
   * @param {Uint8Array | null} [copyData] what the recorded client fed the COPY ... FROM STDIN it is, if it is one
   * @returns {Promise<PgAnswer>}
   */
  run(kind, text, params, copyData = null) {
    if (this.broken) return Promise.resolve({ tag: null, rowCount: null, sqlstate: null, failed: true, copyRefused: false });
    if (this.pending !== undefined) throw new Error('a replayed session runs one statement at a time');
    this.tag = null;
    this.sqlstate = null;
    this.copyRefused = false;
    this.copyData = copyData;
    this.kind = kind;
    const bytes =
      kind === 'simple'
        ? serialize.query(text)
        : Buffer.concat([serialize.parse({ text }), serialize.bind({ values: params }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]);
    return new Promise((resolve) => {
      this.pending = resolve;
      this.socket.write(bytes);
    });
  }

  /** Says goodbye to the server (Terminate) and closes the socket. */
  async close() {
    if (!this.broken) this.socket.end(serialize.end());
    this.broken = true;
    await this.client.end().catch(() => undefined);
  }

  /** @param {import('pg-protocol/dist/messages.js').BackendMessage} message */
  onMessage(message) {
    if (message.name === 'copyInResponse') {
      this.feedCopy();
    } else if (message.name === 'commandComplete') {
      this.tag = /** @type {import('pg-protocol/dist/messages.js').CommandCompleteMessage} */ (message).text;
    } else if (message.name === 'error') {
      this.sqlstate = /** @type {import('pg-protocol/dist/messages.js').DatabaseError} */ (message).code ?? null;
    } else if (message.name === 'readyForQuery') {
      // An error ends the statement (node-postgres rejects it whatever came before): no tag then.
      const tagged = this.sqlstate === null ? commandTag(this.tag) : { tag: null, rowCount: null };
      this.answer({ ...tagged, sqlstate: this.sqlstate, failed: false, copyRefused: this.copyRefused });
    }
  }

  /**
   * The server waits for a COPY's data: the recorded bytes in pieces and CopyDone, or, with none recorded, CopyFail,
   * which ends the statement with an error (57014) instead of leaving the session waiting for ever. A COPY run as an
   * extended query needs a Sync after it: the server ignores the one sent with the Execute while it copies in.
   */
  feedCopy() {
    const data = this.copyData;
    this.copyData = null;
    const pieces = [];
    if (data === null) {
      this.copyRefused = true;
      pieces.push(serialize.copyFail(COPY_NOT_RECORDED));
    } else {
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      for (let at = 0; at < bytes.length; at += COPY_PIECE) pieces.push(serialize.copyData(bytes.subarray(at, at + COPY_PIECE)));
      pieces.push(serialize.copyDone());
    }
    if (this.kind === 'extended') pieces.push(serialize.sync());
    this.socket.write(Buffer.concat(pieces));
  }

  fail() {
    this.broken = true;
    this.answer({ tag: null, rowCount: null, sqlstate: null, failed: true, copyRefused: this.copyRefused });
  }

  /** @param {PgAnswer} answer */
  answer(answer) {
    const resolve = this.pending;
    this.pending = undefined;
    resolve?.(answer);
  }
}

/** @param {string | null} text @returns {{ tag: string | null, rowCount: number | null }} */
function commandTag(text) {
  const m = text === null ? null : COMMAND_TAG.exec(text);
  if (m === null) return { tag: null, rowCount: null };
  const rows = m[3] ?? m[2];
  const rowCount = rows === undefined ? null : Number.parseInt(rows, 10);
  return { tag: `${m[1]}${rowCount === null ? '' : ` ${rowCount}`}`, rowCount };
}
