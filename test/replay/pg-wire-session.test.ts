import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, startPgCluster, type PgCluster } from '../../src/backends/pg/pg-cluster.ts';
import { PgAnswerReader } from '../../src/replay/pg/pg-answer-reader.js';
import { StatementBytes } from '../../src/replay/pg/pg-statement-bytes.js';
import { PgWireSession, replayTag } from '../../src/replay/pg/pg-wire-session.js';
import { backendMessage, cstring } from '../helpers/pg-messages.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';

/** What a reader told, in order. */
function readAll(pieces: readonly Buffer[]): string[] {
  const events: string[] = [];
  const reader = new PgAnswerReader({
    commandComplete: (tag) => events.push(`complete ${tag}`),
    error: (sqlstate) => events.push(`error ${sqlstate ?? '-'}`),
    copyIn: () => events.push('copy in'),
    ready: () => events.push('ready'),
  });
  // The reader gets each piece in a buffer that is overwritten afterwards, as the socket's shared read buffer is.
  const shared = Buffer.alloc(Math.max(1, ...pieces.map((p) => p.length)));
  for (const piece of pieces) {
    piece.copy(shared);
    reader.read(shared, piece.length);
    shared.fill(0xee);
  }
  return events;
}

// Two answers as a server sends them: rows (one larger than a read), a tag, an error with its fields, a COPY's start.
const bigValue = Buffer.alloc(70_000, 0x61);
const row = (value: Buffer): Buffer => {
  const body = Buffer.alloc(2 + 4 + value.length);
  body.writeInt16BE(1, 0);
  body.writeInt32BE(value.length, 2);
  value.copy(body, 6);
  return backendMessage('D', body);
};
const STREAM = Buffer.concat([
  backendMessage('1'),
  backendMessage('2'),
  backendMessage('T', Buffer.from([0, 0])),
  row(Buffer.from('north')),
  row(bigValue),
  backendMessage('C', cstring('SELECT 2')),
  backendMessage('Z', Buffer.from('I')),
  backendMessage('S', Buffer.concat([cstring('TimeZone'), cstring('UTC')])),
  backendMessage('E', Buffer.concat([Buffer.from('S'), cstring('ERROR'), Buffer.from('V'), cstring('ERROR'), Buffer.from('C'), cstring('22012'), Buffer.from('M'), cstring('division by zero'), Buffer.from([0])])),
  backendMessage('Z', Buffer.from('I')),
  backendMessage('G', Buffer.from([0, 0, 0])),
  backendMessage('C', cstring('COPY 3')),
  backendMessage('Z', Buffer.from('I')),
]);
const EXPECTED = ['complete SELECT 2', 'ready', 'error 22012', 'ready', 'copy in', 'complete COPY 3', 'ready'];

describe('the answer reader', () => {
  it('reads the tags, SQLSTATEs, COPY starts and ready signals of a stream, however the reads split it', () => {
    expect(readAll([STREAM])).toEqual(EXPECTED);
    // Every split in two, around the messages the reader decodes and inside the row larger than a read.
    for (let cut = 1; cut < STREAM.length; cut += cut < 200 || cut > STREAM.length - 200 ? 1 : 997) {
      expect(readAll([STREAM.subarray(0, cut), STREAM.subarray(cut)]), `split at byte ${cut}`).toEqual(EXPECTED);
    }
    // A byte at a time: every header and every body split.
    const bytes = Array.from({ length: STREAM.length }, (_, i) => STREAM.subarray(i, i + 1));
    expect(readAll(bytes)).toEqual(EXPECTED);
  });
});

const ready = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)") && requirePrerequisite(spawnSync('openssl', ['version']).status === 0, 'openssl (a certificate for the TLS test)');
const SERVER = { host: '127.0.97.5', port: 15_475 };
let server: PgCluster | undefined;

beforeAll(async () => {
  if (ready) server = await startPgCluster({ ...SERVER, tls: true });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe.runIf(ready)('a replayed session against PostgreSQL', () => {
  it('sends each statement as recorded with its tag, and reads what the server answered', async () => {
    const session = await PgWireSession.open(SERVER, 'postgres', 'postgres', 30_000);
    try {
      const run = async (kind: 'simple' | 'extended', text: string, params: (string | Uint8Array | null)[] = []) => {
        const answer = await session.run(kind, new StatementBytes(kind, text, params).withTag(replayTag(7)));
        return { ...answer };
      };
      // Answers larger than the socket's read buffer (64 KB), rows stepped over.
      expect(await run('extended', "SELECT repeat('é', $1::int) FROM generate_series(1, 40)", ['4000'])).toEqual({ commandText: 'SELECT 40', sqlstate: null, failed: false, copyRefused: false, timedOut: false, notSent: false });
      expect(await run('simple', 'SELECT 1; SELECT 2 UNION ALL SELECT 3')).toEqual({ commandText: 'SELECT 2', sqlstate: null, failed: false, copyRefused: false, timedOut: false, notSent: false });
      expect(await run('extended', 'SELECT 1 / $1::int', ['0'])).toEqual({ commandText: null, sqlstate: '22012', failed: false, copyRefused: false, timedOut: false, notSent: false });
      expect(await run('extended', 'SELECT $1::bytea = $2::bytea, $3::text IS NULL', [Buffer.from([0, 1, 2]), '\\x000102', null])).toEqual({ commandText: 'SELECT 1', sqlstate: null, failed: false, copyRefused: false, timedOut: false, notSent: false });
      await run('simple', 'CREATE TEMP TABLE seen (query text)');
      expect(await run('simple', 'INSERT INTO seen SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()')).toEqual({ commandText: 'INSERT 0 1', sqlstate: null, failed: false, copyRefused: false, timedOut: false, notSent: false });
      const copy = await session.run('simple', new StatementBytes('simple', 'COPY seen FROM STDIN', []).withTag(replayTag(8)), null);
      expect({ ...copy }).toEqual({ commandText: null, sqlstate: '57014', failed: false, copyRefused: true, timedOut: false, notSent: false });
      // The server saw the tag in front of the text, as the taps read it back.
      const seen = await session.run('simple', new StatementBytes('simple', "SELECT 1 FROM seen WHERE query LIKE '/*parity_send=7*/ INSERT INTO seen%'", []).withTag(''));
      expect(seen.commandText).toBe('SELECT 1');
    } finally {
      await session.close();
    }
    // A closed session answers at once that it failed, not sent.
    expect({ ...(await session.run('simple', new StatementBytes('simple', 'SELECT 1', []).withTag(''))) }).toEqual({ commandText: null, sqlstate: null, failed: true, copyRefused: false, timedOut: false, notSent: true });
  }, 60_000);

  it('works the same over TLS when node-postgres is asked for it (PGSSLMODE)', async () => {
    const before = process.env.PGSSLMODE;
    process.env.PGSSLMODE = 'no-verify';
    let session: PgWireSession;
    try {
      session = await PgWireSession.open(SERVER, 'postgres', 'postgres', 30_000);
    } finally {
      if (before === undefined) delete process.env.PGSSLMODE;
      else process.env.PGSSLMODE = before;
    }
    try {
      const run = async (kind: 'simple' | 'extended', text: string, params: (string | null)[] = []) => ({ ...(await session.run(kind, new StatementBytes(kind, text, params).withTag(replayTag(1)))) });
      expect(await run('extended', "SELECT repeat('x', $1::int) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl", ['100000'])).toEqual({ commandText: 'SELECT 1', sqlstate: null, failed: false, copyRefused: false, timedOut: false, notSent: false });
      expect(await run('simple', 'SELECT 1 / 0')).toEqual({ commandText: null, sqlstate: '22012', failed: false, copyRefused: false, timedOut: false, notSent: false });
    } finally {
      await session.close();
    }
  }, 60_000);
});
