import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { num, str, withStore } from '../../src/store/store.ts';
import { writeHttpTraffic } from '../../src/synthetic/http-traffic.ts';
import { writePgWorkloadLog } from '../../src/synthetic/pg-workload.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { listenTcp, type TcpPeer } from '../helpers/tcp-peer.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

// A proxy or pooler under test that stops answering must not hold the gate: before, a replay through a silent proxy
// waited for ever, Ctrl-C included, and no verdict came. Each request now gets --answer-timeout; one left that long is
// recorded with why, and the analysis blames the proxy for it, by reason.

const peers: TcpPeer[] = [];
afterEach(async () => {
  await killAllParity();
  for (const peer of peers.splice(0)) await peer.close();
});

async function listen(host: string, onConnection: (socket: Socket) => void): Promise<number> {
  const peer = await listenTcp(host, onConnection);
  peers.push(peer);
  return peer.port;
}

/** A generated billing API's traffic as a HAR file, imported as capture `billing` into a new store; the store's path. */
async function importBilling(dir: string, traffic: { requests: number; meanGapMs: number }): Promise<string> {
  const har = join(dir, 'billing.har');
  writeHttpTraffic(har, { ...traffic, seed: 3 });
  const db = join(dir, 'h.duckdb');
  expect((await runParity(['import', har, '--db', db])).code).toBe(0);
  return db;
}

/** A PostgreSQL backend message: type, length, body (protocol 3.0). */
function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int32(n: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(n);
  return bytes;
}
const READY = message('Z', Buffer.from('I'));

/**
 * A pooler that lets every client in (trust) and answers the schema check's one query on the first connection, then
 * answers each later connection's first statement and nothing after it.
 */
function silentPooler(socket: Socket, connection: number): void {
  let startedUp = false;
  let statements = 0;
  socket.on('data', () => {
    if (!startedUp) {
      startedUp = true;
      socket.write(Buffer.concat([message('R', int32(0)), READY]));
      return;
    }
    if (connection === 0) {
      // to_regclass($1)::text for the check: one text column, the relation found.
      const field = Buffer.concat([Buffer.from([0, 1]), Buffer.from('regclass\0'), int32(0), Buffer.from([0, 0]), int32(25), Buffer.from([0xff, 0xff]), int32(-1), Buffer.from([0, 0])]);
      const row = Buffer.concat([Buffer.from([0, 1]), int32(8), Buffer.from('readings')]);
      socket.write(Buffer.concat([message('1', Buffer.alloc(0)), message('2', Buffer.alloc(0)), message('T', field), message('D', row), message('C', Buffer.from('SELECT 1\0')), READY]));
      return;
    }
    if (statements++ === 0) socket.write(Buffer.concat([message('C', Buffer.from('SELECT 1\0')), READY]));
  });
}

describe('a replay through a proxy that stops answering', () => {
  it('HTTP: each request gets --answer-timeout, the run completes, and the analysis blames the proxy for every one by reason', async () => {
    await withTempDir(async (dir) => {
      const db = await importBilling(dir, { requests: 12, meanGapMs: 2 });
      // Takes every connection and reads every request, and answers none.
      const port = await listen('127.0.98.1', (socket) => socket.once('data', () => undefined));
      const started = Date.now();
      const replay = await runParity(['replay', 'billing', '--proxy', `http://127.0.98.1:${port}`, '--rate', '200pps', '--connections', '4', '--answer-timeout', '300ms', '--run', 'h1', '--db', db, '--json']);
      expect(replay.code, replay.stderr).toBe(0);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(JSON.parse(replay.stdout)).toMatchObject({ status: 'completed', planned: 12, sent: 12, answered: 0, errors: 12 });
      await withStore(db, async (store) => {
        const rows = await store.query("SELECT error, count(*) AS n FROM http_sends s JOIN runs r USING (run_id) WHERE r.name = 'h1' GROUP BY error");
        expect(rows.map((row) => [str(row.error), num(row.n)])).toEqual([['no answer within 0.3 s (--answer-timeout)', 12]]);
      });
      const analysed = await runParity(['analyse', 'h1', '--db', db]);
      expect(analysed.code).toBe(1);
      expect(analysed.stdout).toContain('CRITICAL proxy: 12 of 12 requests got no answer (12 no answer within 0.3 s (--answer-timeout)): the live path failed for them');
      expect(analysed.stdout).not.toContain('could not send');
    });
  });

  it('HTTP: Ctrl-C stops a replay whose requests are all waiting, within their answer timeout, and keeps the run as interrupted', async () => {
    await withTempDir(async (dir) => {
      const db = await importBilling(dir, { requests: 200, meanGapMs: 50 });
      let requests = 0;
      const port = await listen('127.0.98.2', (socket) => socket.once('data', () => requests++));
      const replay = spawnParity(['replay', 'billing', '--proxy', `http://127.0.98.2:${port}`, '--rate', '20pps', '--connections', '2', '--answer-timeout', '2s', '--run', 'h2', '--db', db, '--json']);
      // Both connections are taken by requests the proxy will never answer, and the next send waits for one.
      await waitFor(() => requests === 2, 'two requests at the proxy');
      const stopped = Date.now();
      expect(await replay.stop('SIGINT'), replay.stderr()).toBe(130);
      expect(Date.now() - stopped).toBeLessThan(15_000);
      const summary = JSON.parse(replay.stdout()) as { status: string; sent: number; answered: number };
      expect(summary.status).toBe('interrupted');
      expect(summary.answered).toBe(0);
      expect(summary.sent).toBeGreaterThanOrEqual(2);
      expect(summary.sent).toBeLessThan(200);
    });
  });

  it('Postgres: a statement unanswered for --answer-timeout ends its session; its later statements are recorded as never sent; the pooler is blamed', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'ledger.csv');
      writePgWorkloadLog(log, { sessions: 3, statements: 6, gapMs: 5, seed: 2 });
      const db = join(dir, 'p.duckdb');
      expect((await runParity(['import', log, '--db', db])).code).toBe(0);
      let connections = 0;
      const port = await listen('127.0.98.3', (socket) => silentPooler(socket, connections++));
      const started = Date.now();
      const replay = await runParity(['replay', 'ledger', '--proxy', `postgres://127.0.98.3:${port}`, '--answer-timeout', '300ms', '--run', 'p1', '--db', db, '--json']);
      expect(replay.code, replay.stderr).toBe(0);
      expect(Date.now() - started).toBeLessThan(60_000);
      const summary = JSON.parse(replay.stdout) as { status: string; sent: number; answered: number; errors: number };
      expect(summary.status).toBe('completed');
      const sessions = 3;
      expect(summary.answered).toBe(sessions);
      await withStore(db, async (store) => {
        const rows = await store.query("SELECT error, count(*) AS n FROM pg_sends s JOIN runs r USING (run_id) WHERE r.name = 'p1' GROUP BY error ORDER BY error NULLS FIRST");
        expect(rows.map((row) => [row.error === null ? null : str(row.error), num(row.n)])).toEqual([
          [null, sessions],
          ['no answer within 0.3 s (--answer-timeout)', sessions],
          ['not sent, its session having ended before it', summary.sent - 2 * sessions],
        ]);
      });
      const analysed = await runParity(['analyse', 'p1', '--db', db]);
      expect(analysed.code).toBe(1);
      expect(analysed.stdout).toContain(`CRITICAL pooler: ${summary.sent - sessions} of ${summary.sent} statements got no answer (${summary.sent - 2 * sessions} not sent, its session having ended before it, 3 no answer within 0.3 s (--answer-timeout)): the live path failed for them`);
      expect(analysed.stdout).toContain(`clients: answered 3 of ${summary.sent} statements through the pooler`);
      expect(analysed.stdout).not.toContain('could not send');
    });
  });
});
