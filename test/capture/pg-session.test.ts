import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { PgSessionReader, type PgStatement } from '../../src/capture/pg/pg-session.ts';
import { backendMessage, cstring } from '../helpers/pg-messages.ts';

const errorResponse = (code: string, message: string): Buffer => backendMessage('E', Buffer.concat([Buffer.from('SERROR\u0000'), Buffer.from(`C${code}\u0000`), Buffer.from(`M${message}\u0000`), Buffer.from([0])]));
const ready = (status: string): Buffer => backendMessage('Z', Buffer.from(status));
const complete = (tag: string): Buffer => backendMessage('C', cstring(tag));

function session(): { reader: PgSessionReader; statements: PgStatement[] } {
  const statements: PgStatement[] = [];
  return { reader: new PgSessionReader('10.0.0.7:50000', '10.0.0.5:5432', (s) => statements.push(s)), statements };
}

describe('PgSessionReader', () => {
  it('an error in an extended batch ends its statement with the SQLSTATE; the ones queued before the Sync never ran', () => {
    const { reader, statements } = session();
    // Frontend messages from the library the project's clients use (node-postgres's serializer).
    reader.fromClient(serialize.startup({ user: 'app', database: 'billing' }), 1n);
    reader.fromServer(Buffer.concat([backendMessage('R', Buffer.from([0, 0, 0, 0])), ready('I')]), 2n);
    reader.fromClient(
      Buffer.concat([
        serialize.parse({ text: 'SELECT 1 / $1', types: [] }),
        serialize.bind({ values: ['0'] }),
        serialize.execute(),
        serialize.parse({ text: 'SELECT 2', types: [] }),
        serialize.bind({ values: [] }),
        serialize.execute(),
        serialize.sync(),
        serialize.query('SELECT 3'),
      ]),
      3n,
    );
    reader.fromServer(Buffer.concat([backendMessage('1'), backendMessage('2'), errorResponse('22012', 'division by zero'), ready('I')]), 4n);
    reader.fromServer(Buffer.concat([complete('SELECT 1'), ready('I')]), 5n);
    reader.end();
    expect(statements.map((s) => [s.kind, s.text, s.params, s.tag, s.sqlstate, s.error, s.endNs])).toEqual([
      ['extended', 'SELECT 1 / $1', ['0'], null, '22012', 'division by zero', 4n],
      ['simple', 'SELECT 3', [], 'SELECT 1', null, null, 5n],
    ]);
    expect(reader.info).toMatchObject({ user: 'app', database: 'billing' });
  });

  it('a session that turns to TLS is unreadable: said, nothing guessed', () => {
    const { reader, statements } = session();
    const sslRequest = Buffer.alloc(8);
    sslRequest.writeInt32BE(8, 0);
    sslRequest.writeInt32BE(80_877_103, 4);
    reader.fromClient(sslRequest, 1n);
    reader.fromServer(Buffer.from('S'), 2n);
    reader.fromClient(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]), 3n);
    reader.end();
    expect(reader.tls).toBe(true);
    expect(reader.fault).toBeUndefined();
    expect(statements).toEqual([]);
  });

  it('SSL refused (N): the startup follows in the clear and is read', () => {
    const { reader, statements } = session();
    const sslRequest = Buffer.alloc(8);
    sslRequest.writeInt32BE(8, 0);
    sslRequest.writeInt32BE(80_877_103, 4);
    reader.fromClient(sslRequest, 1n);
    reader.fromServer(Buffer.from('N'), 2n);
    reader.fromClient(Buffer.concat([serialize.startup({ user: 'app' }), serialize.query('SELECT 1')]), 3n);
    reader.fromServer(Buffer.concat([backendMessage('R', Buffer.from([0, 0, 0, 0])), ready('I'), complete('SELECT 1'), ready('I')]), 4n);
    reader.end();
    expect(reader.tls).toBe(false);
    expect(statements.map((s) => [s.text, s.tag])).toEqual([['SELECT 1', 'SELECT 1']]);
  });

  it('a connection that ends inside a client message is a fault; a statement never answered is kept as such', () => {
    const { reader, statements } = session();
    reader.fromClient(serialize.startup({ user: 'app' }), 1n);
    reader.fromClient(serialize.query('SELECT pg_sleep(10)'), 2n);
    reader.fromClient(serialize.query('SELECT 1').subarray(0, 6), 3n);
    reader.end();
    expect(reader.fault).toBe('a client message was cut short when the connection ended');
    expect(statements.map((s) => [s.text, s.tag, s.endNs])).toEqual([['SELECT pg_sleep(10)', null, null]]);
  });
});
