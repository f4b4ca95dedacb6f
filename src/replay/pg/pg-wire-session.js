// One replayed PostgreSQL session's connection, used by the sending threads (pg-send-worker.js). Plain JavaScript, as
// the threads are; the types are checked from JSDoc.
import { Socket } from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { PgAnswerReader } from './pg-answer-reader.js';

/**
 * What the database answered the statement last run. `commandText`: its CommandComplete as sent (`SELECT 2`,
 * `INSERT 0 1`; none when it failed); `copyRefused`: it was a COPY ... FROM STDIN whose data the recording does not
 * hold, refused with CopyFail instead of fed (so its answer says nothing about the data).
 * `timedOut`: no answer came within the replay's answer timeout, and the session was given up; `notSent`: the session
 * had ended before this statement, which failed without being sent.
 * @typedef {{ commandText: string | null, sqlstate: string | null, failed: boolean, copyRefused: boolean, timedOut: boolean, notSent: boolean }} PgAnswer
 */

/** CopyData messages of at most this many bytes (PostgreSQL's own clients send 64 KB or less). */
const COPY_PIECE = 65536;

/** Why a COPY's data is refused when the recording has none: the statement fails, as it should, and the session goes on. */
const COPY_NOT_RECORDED = 'parity: the data of this COPY was not recorded';

/**
 * Every session of a thread reads into this one buffer: a read is consumed before the next begins (the reader copies
 * only a message split across reads), and a buffer per read was an allocation, and a collection's share, per answer.
 */
const READ_BUFFER = Buffer.allocUnsafe(65536);

/** The comment a replayed statement starts with, as sqlcommenter tags statements: each tap's record names its send. */
export function replayTag(/** @type {number} */ sendNo) {
  return `/*parity_send=${sendNo}*/ `;
}

/**
 * node-postgres opens the connection (TLS, startup, every authentication method a database may ask for); then the
 * session writes each statement's messages itself (StatementBytes) and reads only what a replay records
 * (PgAnswerReader). Through node-postgres every statement built a result object and decoded each row into JavaScript
 * values the replay then threw away.
 */
export class PgWireSession {
  /** @param {pg.Client} client @param {Socket} socket @param {number} answerTimeoutMs */
  constructor(client, socket, answerTimeoutMs) {
    this.client = client;
    this.socket = socket;
    this.answerTimeoutMs = answerTimeoutMs;
    /** The statement in flight's deadline. @type {NodeJS.Timeout | undefined} */
    this.deadline = undefined;
    /** @type {((answer: PgAnswer) => void) | undefined} */
    this.pending = undefined;
    /** Rewritten by each statement: read it before running the next. @type {PgAnswer} */
    this.answer = { commandText: null, sqlstate: null, failed: false, copyRefused: false, timedOut: false, notSent: false };
    /** The data the statement in flight feeds a COPY ... FROM STDIN, if it is one. @type {Uint8Array | null} */
    this.copyData = null;
    /** @type {'simple' | 'extended'} */
    this.kind = 'simple';
    this.broken = false;
    this.reader = new PgAnswerReader({
      commandComplete: (text) => {
        this.answer.commandText = text;
      },
      error: (sqlstate) => {
        this.answer.sqlstate = sqlstate;
      },
      copyIn: () => this.feedCopy(),
      ready: () => {
        // An error ends the statement (node-postgres rejects it whatever came before): no tag then.
        if (this.answer.sqlstate !== null) this.answer.commandText = null;
        this.settle();
      },
    });
    socket.on('close', () => this.fail());
    socket.on('error', () => this.fail());
  }

  /**
   * Opens the session, within `answerTimeoutMs` (connection, TLS, startup and authentication together).
   * @param {{ host: string, port: number }} target @param {string} user @param {string} database @param {number} answerTimeoutMs
   */
  static async open(target, user, database, answerTimeoutMs) {
    /** @type {PgAnswerReader | undefined} */
    let reader;
    // The socket reads into READ_BUFFER (Node's `onread`), so there are no 'data' events: until the session takes
    // over, what it reads is handed to node-postgres as they would have handed it. (Node takes `onread` in the
    // Socket's constructor, as net.connect passes its options there; its types list it for connect only.)
    /** @type {{ onread: import('node:net').OnReadOpts }} */
    const reading = {
      onread: {
        buffer: READ_BUFFER,
        callback: (/** @type {number} */ length) => {
          if (reader !== undefined) reader.read(READ_BUFFER, length);
          else socket.emit('data', Buffer.from(READ_BUFFER.subarray(0, length)));
          return true;
        },
      },
    };
    const socket = new Socket(/** @type {import('node:net').SocketConstructorOpts} */ (reading));
    const client = new pg.Client({ host: target.host, port: target.port, user, database, stream: () => socket, connectionTimeoutMillis: answerTimeoutMs });
    client.on('error', () => undefined);
    await client.connect();
    // A connection node-postgres upgraded to TLS (PGSSLMODE, sslmode) reads and writes through a TLS socket over
    // this one: the session uses it, reading its 'data' events (the copy the shared buffer saves is TLS's anyway).
    const upgraded = /** @type {{ connection: { stream: Socket } }} */ (/** @type {unknown} */ (client)).connection.stream;
    if (upgraded !== socket) {
      upgraded.removeAllListeners('data');
      const session = new PgWireSession(client, upgraded, answerTimeoutMs);
      upgraded.on('data', (/** @type {Buffer} */ bytes) => session.reader.read(bytes, bytes.length));
      return session;
    }
    const session = new PgWireSession(client, socket, answerTimeoutMs);
    reader = session.reader;
    return session;
  }

  /**
   * Sends one statement's messages (StatementBytes); resolves with its answer once the database is ready for the next.
   * @param {'simple' | 'extended'} kind @param {Buffer} bytes
   * @param {Uint8Array | null} [copyData] what the recorded client fed the COPY ... FROM STDIN it is, if it is one
   * @returns {Promise<PgAnswer>}
   */
  run(kind, bytes, copyData = null) {
    const answer = this.answer;
    answer.commandText = null;
    answer.sqlstate = null;
    answer.failed = this.broken;
    answer.copyRefused = false;
    answer.timedOut = false;
    answer.notSent = this.broken;
    if (this.broken) return Promise.resolve(answer);
    if (this.pending !== undefined) throw new Error('a replayed session runs one statement at a time');
    this.copyData = copyData;
    this.kind = kind;
    return new Promise((resolve) => {
      this.pending = resolve;
      // Past its deadline the session is given up: where its answer would come from is no longer known, and the
      // session's later statements fail at once (broken), each recorded, instead of waiting on a silent server.
      this.deadline = setTimeout(() => {
        this.answer.timedOut = true;
        this.socket.destroy();
        this.fail();
      }, this.answerTimeoutMs);
      this.socket.write(bytes);
    });
  }

  /** Says goodbye to the server (Terminate) and closes the socket. */
  async close() {
    if (!this.broken) this.socket.end(serialize.end());
    this.broken = true;
    await this.client.end().catch(() => undefined);
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
      this.answer.copyRefused = true;
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
    this.answer.commandText = null;
    this.answer.sqlstate = null;
    this.answer.failed = true;
    this.settle();
  }

  settle() {
    clearTimeout(this.deadline);
    this.deadline = undefined;
    const resolve = this.pending;
    this.pending = undefined;
    resolve?.(this.answer);
  }
}
