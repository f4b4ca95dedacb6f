// One replayed PostgreSQL session's connection, used by the sending threads (pg-send-worker.js). Plain JavaScript, as
// the threads are; the types are checked from JSDoc.
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';

/** @typedef {{ tag: string | null, rowCount: number | null, sqlstate: string | null, failed: boolean }} PgAnswer */

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
   * @returns {Promise<PgAnswer>}
   */
  run(kind, text, params) {
    if (this.broken) return Promise.resolve({ tag: null, rowCount: null, sqlstate: null, failed: true });
    if (this.pending !== undefined) throw new Error('a replayed session runs one statement at a time');
    this.tag = null;
    this.sqlstate = null;
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
    if (message.name === 'commandComplete') {
      this.tag = /** @type {import('pg-protocol/dist/messages.js').CommandCompleteMessage} */ (message).text;
    } else if (message.name === 'error') {
      this.sqlstate = /** @type {import('pg-protocol/dist/messages.js').DatabaseError} */ (message).code ?? null;
    } else if (message.name === 'readyForQuery') {
      // An error ends the statement (node-postgres rejects it whatever came before): no tag then.
      const tagged = this.sqlstate === null ? commandTag(this.tag) : { tag: null, rowCount: null };
      this.answer({ ...tagged, sqlstate: this.sqlstate, failed: false });
    }
  }

  fail() {
    this.broken = true;
    this.answer({ tag: null, rowCount: null, sqlstate: null, failed: true });
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
