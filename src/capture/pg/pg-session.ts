import { createHash, type Hash } from 'node:crypto';
import type { BackendMessage, CommandCompleteMessage, CopyDataMessage, DatabaseError, DataRowMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { UpgradedConnection } from '../http/http-from-tcp.ts';
import { FrontendReader, PgFramingError, type FrontendMessage } from './pg-frontend.ts';

/** One statement of a recorded session, with what the server answered. */
export interface PgStatement {
  /** Its order in the session (from 0). */
  seq: number;
  /** Capture time (ns) of the client's message that ran it, and of the server's answer's end. */
  tsNs: bigint;
  endNs: bigint | null;
  kind: 'simple' | 'extended';
  text: string;
  /** Bound parameters as sent: text as it is, binary as `\x` and hex; null for a NULL; none for a simple query. */
  params: (string | null)[];
  /** The command tag (`SELECT 3`, `INSERT 0 1`), null on error or when never answered. */
  tag: string | null;
  rowCount: number | null;
  /** SHA-256 of the rows returned, in order (null when the statement returned none). */
  rowHash: string | null;
  /** The rows as a multiset, order left out (the sum of each row's SHA-256): what a query without ORDER BY promises. */
  rowSetHash: string | null;
  sqlstate: string | null;
  error: string | null;
  /**
   * What the client sent after a COPY ... FROM STDIN, for a replay to send again; null when it sent none, gave up
   * (CopyFail), sent more than a recording keeps (MAX_COPY_BYTES), or the reader was asked not to keep it (a tap).
   */
  copyData: Uint8Array | null;
}

/** A COPY's data past this is not kept (the statement replays as a COPY whose data was not recorded). */
const MAX_COPY_BYTES = 64 * 1024 * 1024;

export interface PgSessionInfo {
  client: string;
  server: string;
  user: string | null;
  database: string | null;
  application: string | null;
}

const SET_MASK = (1n << 256n) - 1n;

interface Pending {
  kind: 'simple' | 'extended';
  text: string;
  params: (string | null)[];
  tsNs: bigint;
  /** The Sync an extended statement belongs to: an error skips the rest of its group. */
  group: number;
  rows: number;
  hash: Hash | undefined;
  setSum: bigint;
  /** A simple query that has had an answer (it stays queued until ReadyForQuery). */
  answered: boolean;
  /** Its COPY data so far; undefined: none, or not kept. */
  copy: { parts: Buffer[]; bytes: number; kept: boolean } | undefined;
}

/**
 * Reads one PostgreSQL session out of its two byte streams (protocol 3.0): the client's messages here, the server's
 * with pg-protocol's parser. Statements are paired with their answers in the protocol's own order: a simple query's
 * results until ReadyForQuery (one statement per command it held), an extended Execute's rows and its
 * CommandComplete; an error ends the statement with its SQLSTATE and, in extended mode, skips the statements queued
 * before the next Sync (the server never runs them). A session that turns to TLS is unreadable: reported, not guessed.
 */
export class PgSessionReader implements UpgradedConnection {
  readonly info: PgSessionInfo;
  statements = 0;
  fault: string | undefined;
  tls = false;
  private readonly frontend: FrontendReader;
  private readonly backend = new Parser();
  private readonly queue: Pending[] = [];
  private readonly prepared = new Map<string, string>();
  private readonly portals = new Map<string, { text: string; params: (string | null)[] }>();
  private group = 0;
  /** What each ReadyForQuery to come answers, in order: the startup, a Sync, or a simple query. */
  private readonly readyOwners: ('startup' | 'sync' | Pending)[] = [];
  private clientTs = 0n;
  private serverTs = 0n;
  private awaitingSslAnswer = false;
  private stopped = false;

  constructor(
    client: string,
    server: string,
    private readonly emit: (statement: PgStatement, session: PgSessionInfo) => void,
    /** keepCopyData: keep each COPY's data (an import, for the replay); a tap, which only reports answers, does not. */
    private readonly options: { keepCopyData?: boolean } = {},
  ) {
    this.info = { client, server, user: null, database: null, application: null };
    this.frontend = new FrontendReader((message) => this.fromFrontend(message));
  }

  fromClient(bytes: Uint8Array, tsNs: bigint): void {
    if (this.stopped) return;
    this.clientTs = tsNs;
    this.guard(() => this.frontend.push(bytes));
  }

  fromServer(bytes: Uint8Array, tsNs: bigint): void {
    if (this.stopped) return;
    this.serverTs = tsNs;
    let rest = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.awaitingSslAnswer && rest.length > 0) {
      this.awaitingSslAnswer = false;
      if (rest[0] === 0x53) {
        // 'S': the rest of the session is TLS.
        this.tls = true;
        this.stopped = true;
        return;
      }
      this.frontend.expectStartup();
      rest = rest.subarray(1);
    }
    if (rest.length > 0) this.guard(() => this.backend.parse(rest, (message) => this.fromBackend(message)));
  }

  /** Statements sent and not answered yet. */
  get pending(): number {
    return this.queue.filter((p) => !p.answered).length;
  }

  damage(reason: string): void {
    this.fault ??= reason;
    this.stopped = true;
  }

  /** The connection ended: statements never answered are kept as such; a message cut short is a fault. */
  end(): void {
    if (!this.stopped && this.fault === undefined && this.frontend.leftover > 0) this.fault = 'a client message was cut short when the connection ended';
    for (const pending of this.queue.splice(0)) if (!pending.answered) this.finish(pending, null, null, null);
    this.stopped = true;
  }

  private guard(read: () => void): void {
    try {
      read();
    } catch (error) {
      if (!(error instanceof PgFramingError) && !(error instanceof RangeError)) throw error;
      this.fault ??= error.message;
      this.stopped = true;
    }
  }

  private fromFrontend(message: FrontendMessage): void {
    switch (message.type) {
      case 'sslRequest':
        this.awaitingSslAnswer = true;
        return;
      case 'startup':
        this.readyOwners.push('startup');
        this.info.user = message.parameters.user ?? null;
        this.info.database = message.parameters.database ?? this.info.user;
        this.info.application = message.parameters.application_name ?? null;
        return;
      case 'query': {
        const pending: Pending = { kind: 'simple', text: message.text, params: [], tsNs: this.clientTs, group: -1, rows: 0, hash: undefined, setSum: 0n, answered: false, copy: undefined };
        this.queue.push(pending);
        this.readyOwners.push(pending);
        return;
      }
      case 'parse':
        this.prepared.set(message.statement, message.text);
        return;
      case 'bind':
        this.portals.set(message.portal, {
          text: this.prepared.get(message.statement) ?? '',
          params: message.params.map((value, i) => (value === null ? null : formatOf(message.paramFormats, i) === 1 ? `\\x${value.toString('hex')}` : value.toString('utf8'))),
        });
        return;
      case 'execute': {
        const portal = this.portals.get(message.portal) ?? { text: '', params: [] };
        this.queue.push({ kind: 'extended', text: portal.text, params: portal.params, tsNs: this.clientTs, group: this.group, rows: 0, hash: undefined, setSum: 0n, answered: false, copy: undefined });
        return;
      }
      case 'sync':
        this.group++;
        this.readyOwners.push('sync');
        return;
      case 'copyData': {
        const copying = this.options.keepCopyData === true ? this.copying() : undefined;
        if (copying === undefined) return;
        const copy = (copying.copy ??= { parts: [], bytes: 0, kept: true });
        copy.bytes += message.data.length;
        if (!copy.kept) return;
        if (copy.bytes > MAX_COPY_BYTES) {
          copy.kept = false;
          copy.parts = [];
        } else copy.parts.push(Buffer.from(message.data)); // copied: the message is a view of a buffer the reader reuses
        return;
      }
      case 'copyFail': {
        const copying = this.copying();
        if (copying !== undefined) copying.copy = { parts: [], bytes: 0, kept: false };
        return;
      }
      default:
        return;
    }
  }

  /** The statement the server is copying in for: the first one not answered yet. */
  private copying(): Pending | undefined {
    return this.queue.find((p) => !p.answered);
  }

  private fromBackend(message: BackendMessage): void {
    const head = this.queue[0];
    switch (message.name) {
      case 'dataRow': {
        if (head === undefined) return;
        const fields = (message as DataRowMessage).fields as (string | null)[];
        addRow(head, fields.map((field) => (field === null ? '\u0000N' : `\u0001${field.length}:${field}`)), '\u0002');
        return;
      }
      case 'copyData': {
        // A COPY ... TO STDOUT's rows, one CopyData each: hashed as rows are, so its results are compared like a SELECT's.
        if (head === undefined) return;
        const bytes = (message as CopyDataMessage).chunk;
        addRow(head, [`\u0003${bytes.length}:`, bytes]);
        return;
      }
      case 'commandComplete':
      case 'emptyQuery': {
        if (head === undefined) return;
        const tag = message.name === 'emptyQuery' ? '' : (message as CommandCompleteMessage).text;
        this.finish(head, tag, null, this.serverTs);
        // A simple query may hold several commands: it stays until ReadyForQuery.
        if (head.kind === 'simple') {
          head.rows = 0;
          head.hash = undefined;
          head.setSum = 0n;
          head.answered = true;
        } else this.queue.shift();
        return;
      }
      case 'portalSuspended':
        // An Execute with a row limit stopped early: its rows so far are its answer.
        if (head !== undefined && head.kind === 'extended') {
          this.finish(head, null, null, this.serverTs);
          this.queue.shift();
        }
        return;
      case 'error': {
        if (head === undefined) return;
        const error = message as DatabaseError;
        this.finish(head, null, { sqlstate: error.code ?? null, message: error.message }, this.serverTs);
        if (head.kind === 'extended') {
          this.queue.shift();
          // The server skips to the Sync: what was queued with this statement never ran.
          while (this.queue[0]?.kind === 'extended' && this.queue[0].group === head.group) this.queue.shift();
        } else head.answered = true;
        return;
      }
      case 'readyForQuery': {
        const owner = this.readyOwners.shift();
        if (owner === undefined || typeof owner === 'string') return;
        // A simple query's results end here (an empty query string has no other answer).
        const index = this.queue.indexOf(owner);
        if (index >= 0) this.queue.splice(index, 1);
        if (!owner.answered) this.finish(owner, null, null, this.serverTs);
        return;
      }
      default:
        return;
    }
  }

  private finish(pending: Pending, tag: string | null, error: { sqlstate: string | null; message: string } | null, endNs: bigint | null): void {
    const counted = tag === null ? null : /(\d+)$/.exec(tag)?.[1];
    this.emit(
      {
        seq: this.statements++,
        tsNs: pending.tsNs,
        endNs,
        kind: pending.kind,
        text: pending.text,
        params: pending.params,
        tag,
        rowCount: counted === undefined || counted === null ? (pending.rows > 0 ? pending.rows : null) : Number(counted),
        rowHash: pending.hash === undefined ? null : pending.hash.digest('hex'),
        rowSetHash: pending.hash === undefined ? null : pending.setSum.toString(16).padStart(64, '0'),
        sqlstate: error?.sqlstate ?? null,
        error: error?.message ?? null,
        copyData: pending.copy?.kept === true ? Buffer.concat(pending.copy.parts) : null,
      },
      this.info,
    );
  }
}

/**
 * Adds one returned row to its statement's hashes: in order (the statement's hash, with `end` after the row) and as a
 * multiset (the sum of each row's own SHA-256).
 */
function addRow(pending: Pending, parts: readonly (string | Uint8Array)[], end = ''): void {
  const ordered = (pending.hash ??= createHash('sha256'));
  const row = createHash('sha256');
  for (const part of parts) {
    ordered.update(part);
    row.update(part);
  }
  if (end !== '') ordered.update(end);
  pending.setSum = (pending.setSum + BigInt(`0x${row.digest('hex')}`)) & SET_MASK;
  pending.rows++;
}

function formatOf(formats: readonly number[], index: number): number {
  if (formats.length === 0) return 0;
  if (formats.length === 1) return formats[0] ?? 0;
  return formats[index] ?? 0;
}
