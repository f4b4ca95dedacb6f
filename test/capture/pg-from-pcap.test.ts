import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, startPgCluster, type PgCluster } from '../../src/backends/pg/pg-cluster.ts';
import { importCaptures } from '../../src/capture/import-capture.ts';
import { numOrNull, str, withStore } from '../../src/store/store.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { readAll } from '../helpers/read-frames.ts';
import { captureWholeTcp, clientDataFrames, rewritePcap } from '../helpers/tcp-capture.ts';
import { tcpdumpUsable } from '../helpers/tcpdump.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { tsharkReady } from '../helpers/tshark.ts';

const ready = requirePrerequisite(tcpdumpUsable(), 'tcpdump run as root, to capture real PostgreSQL sessions on loopback') && requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");
const tsharkPresent = tsharkReady();
const HOST = '127.0.92.1';
const PORT = 15_433;

let cluster: PgCluster | undefined;
beforeAll(async () => {
  if (ready) cluster = await startPgCluster({ host: HOST, port: PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

interface Ran {
  text: string;
  params: (string | null)[] | null;
  tag: string | null;
  rows: number | null;
  sqlstate: string | null;
}

/**
 * Two sessions through node-postgres, a client independent of the importer: simple queries (one holding two commands),
 * extended ones with bound parameters (text, NULL), a transaction, an error that aborts it, rows returned.
 */
async function traffic(url: string): Promise<Ran[]> {
  const ran: Ran[] = [];
  const first = new pg.Client({ connectionString: url, application_name: 'billing' });
  await first.connect();
  try {
    await first.query('DROP TABLE IF EXISTS invoices; CREATE TABLE invoices (id int PRIMARY KEY, customer text, cents int)');
    ran.push({ text: 'DROP TABLE IF EXISTS invoices; CREATE TABLE invoices (id int PRIMARY KEY, customer text, cents int)', params: null, tag: 'DROP TABLE', rows: null, sqlstate: null });
    ran.push({ text: 'DROP TABLE IF EXISTS invoices; CREATE TABLE invoices (id int PRIMARY KEY, customer text, cents int)', params: null, tag: 'CREATE TABLE', rows: null, sqlstate: null });
    for (let id = 1; id <= 5; id++) {
      const customer = id === 3 ? null : `acme-${id}`;
      await first.query('INSERT INTO invoices VALUES ($1, $2, $3)', [id, customer, id * 100]);
      ran.push({ text: 'INSERT INTO invoices VALUES ($1, $2, $3)', params: [String(id), customer, String(id * 100)], tag: 'INSERT 0 1', rows: 1, sqlstate: null });
    }
    await first.query('SELECT id, customer FROM invoices WHERE cents > $1 ORDER BY id', [150]);
    ran.push({ text: 'SELECT id, customer FROM invoices WHERE cents > $1 ORDER BY id', params: ['150'], tag: 'SELECT 4', rows: 4, sqlstate: null });
  } finally {
    await first.end();
  }
  const second = new pg.Client({ connectionString: url });
  await second.connect();
  try {
    await second.query('BEGIN');
    ran.push({ text: 'BEGIN', params: null, tag: 'BEGIN', rows: null, sqlstate: null });
    await second.query('UPDATE invoices SET cents = cents + 1 WHERE id <= 2');
    ran.push({ text: 'UPDATE invoices SET cents = cents + 1 WHERE id <= 2', params: null, tag: 'UPDATE 2', rows: 2, sqlstate: null });
    await second.query('SELECT 1 / 0').catch(() => undefined);
    ran.push({ text: 'SELECT 1 / 0', params: null, tag: null, rows: null, sqlstate: '22012' });
    await second.query('ROLLBACK');
    ran.push({ text: 'ROLLBACK', params: null, tag: 'ROLLBACK', rows: null, sqlstate: null });
    await second.query('SELECT id, customer FROM invoices WHERE cents > $1 ORDER BY id', [150]);
    ran.push({ text: 'SELECT id, customer FROM invoices WHERE cents > $1 ORDER BY id', params: ['150'], tag: 'SELECT 4', rows: 4, sqlstate: null });
    await second.query('SELECT id FROM invoices ORDER BY id DESC');
    ran.push({ text: 'SELECT id FROM invoices ORDER BY id DESC', params: null, tag: 'SELECT 5', rows: 5, sqlstate: null });
  } finally {
    await second.end();
  }
  return ran;
}

interface Row extends Ran {
  session: string;
  seq: number;
  hash: string | null;
  application: string | null;
}

async function importPg(dir: string, file: string, name: string): Promise<{ rows: Row[]; error: string | undefined; stats: unknown }> {
  return withStore(join(dir, `${name}.duckdb`), async (store) => {
    const result = await importCaptures(store, { files: [file], name });
    const rows = await store.query('SELECT session, seq, query, params, command_tag, row_count, sqlstate, row_hash, application FROM pg_statements ORDER BY ts_ns, session, seq');
    return {
      rows: rows.map((r) => ({
        session: str(r.session),
        seq: Number(r.seq),
        text: str(r.query),
        params: r.params === null ? null : (JSON.parse(str(r.params)) as (string | null)[]),
        tag: r.command_tag === null ? null : str(r.command_tag),
        rows: numOrNull(r.row_count),
        sqlstate: r.sqlstate === null ? null : str(r.sqlstate),
        hash: r.row_hash === null ? null : str(r.row_hash),
        application: r.application === null ? null : str(r.application),
      })),
      error: result.captures[0]?.error?.message,
      stats: result.captures[0]?.stats.pg,
    };
  });
}

const statement = (r: Row): Ran => ({ text: r.text, params: r.params, tag: r.tag, rows: r.rows, sqlstate: r.sqlstate });

describe.runIf(ready)('PostgreSQL sessions read out of a real tcpdump capture', () => {
  it('every statement of two sessions with its answer: simple and extended, parameters, tags, row counts, SQLSTATE, rows hashed in order', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'pg.pcap');
      const ran = await captureWholeTcp(file, HOST, PORT, () => traffic((cluster as PgCluster).url()));
      const imported = await importPg(dir, file, 'pg');
      expect(imported.error).toBeUndefined();
      expect(imported.stats).toMatchObject({ sessions: 2, statements: ran.length, tlsSessions: 0, damaged: 0 });
      expect(imported.rows.map(statement)).toEqual(ran);
      const sessions = [...new Set(imported.rows.map((r) => r.session))];
      expect(sessions).toHaveLength(2);
      expect(sessions.every((s) => s.endsWith(`-> ${HOST}:${PORT}`))).toBe(true);
      expect(imported.rows.filter((r) => r.session === sessions[0]).map((r) => r.seq)).toEqual([...Array(8).keys()]);
      expect(imported.rows[0]?.application).toBe('billing');
      // The same rows give the same hash, other rows another; statements that return none have none.
      const selects = imported.rows.filter((r) => r.text.startsWith('SELECT id, customer'));
      expect(selects[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(selects[1]?.hash).toBe(selects[0]?.hash);
      expect(imported.rows.find((r) => r.text.startsWith('SELECT id FROM'))?.hash).not.toBe(selects[0]?.hash);
      expect(imported.rows.filter((r) => r.tag?.startsWith('INSERT') === true).every((r) => r.hash === null)).toBe(true);
      if (tsharkPresent) {
        // An independent reader of the same bytes: Wireshark's dissector sees the same query texts sent.
        const tshark = spawnSync('tshark', ['-r', file, '-d', `tcp.port==${PORT},pgsql`, '-Y', 'pgsql.query', '-T', 'fields', '-E', 'aggregator=§', '-e', 'pgsql.query'], { encoding: 'utf8' });
        const seen = new Set(tshark.stdout.trim().split('\n').flatMap((line) => line.split('§')).filter(Boolean));
        for (const text of new Set(ran.map((r) => r.text))) expect(seen.has(text), `${text} in ${[...seen].join(' | ')}`).toBe(true);
      }
    });
  }, 60_000);

  it('a lost segment keeps the statements before it and flags the capture, naming the session', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'pg.pcap');
      const ran = await captureWholeTcp(file, HOST, PORT, () => traffic((cluster as PgCluster).url()));
      const { frames } = await readAll(file);
      const data = clientDataFrames(frames, PORT);
      const firstPort = data[0]?.port;
      const lost = data.filter((d) => d.port === firstPort)[5]?.index as number;
      rewritePcap(join(dir, 'lost.pcap'), frames.filter((_f, index) => index !== lost));
      const damaged = await importPg(dir, join(dir, 'lost.pcap'), 'lost');
      expect(damaged.error).toMatch(new RegExp(`lost\\.pcap: 127\\.0\\.0\\.1:${firstPort} -> ${HOST.replace(/\./g, '\\.')}:${PORT}: a segment from the client is missing; every statement before it is kept$`));
      const firstSession = damaged.rows.filter((r) => r.session.startsWith(`127.0.0.1:${firstPort} `)).map(statement);
      expect(firstSession.length).toBeGreaterThan(0);
      expect(firstSession.length).toBeLessThan(8);
      expect(firstSession.filter((s) => s.tag !== null)).toEqual(ran.slice(0, firstSession.filter((s) => s.tag !== null).length));
      // The other session is whole.
      expect(damaged.rows.filter((r) => !r.session.startsWith(`127.0.0.1:${firstPort} `)).map(statement)).toEqual(ran.slice(8));
    });
  }, 60_000);
});
