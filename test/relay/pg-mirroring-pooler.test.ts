import net from 'node:net';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBin, startPgCluster, type PgCluster } from '../../src/backends/pg/pg-cluster.ts';
import type { PgStatement } from '../../src/capture/pg/pg-session.ts';
import { PgTap } from '../../src/observe/pg-tap.ts';
import { MirroringPooler, type PoolerConfig } from '../../src/relay/pg/mirroring-pooler.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { waitFor } from '../helpers/wait-for.ts';

const ready = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");
let primary: PgCluster | undefined;
let mirror: PgCluster | undefined;
const opened: { close(): Promise<void> | void }[] = [];

beforeAll(async () => {
  if (!ready) return;
  [primary, mirror] = await Promise.all([startPgCluster({ host: '127.0.93.1', port: 15_441 }), startPgCluster({ host: '127.0.93.2', port: 15_442 })]);
  for (const db of [primary, mirror]) {
    const client = new pg.Client({ connectionString: db.url() });
    await client.connect();
    await client.query('CREATE TABLE readings (id serial PRIMARY KEY, device text, value int)');
    await client.end();
  }
}, 90_000);
afterAll(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
  await Promise.all([primary?.stop(), mirror?.stop()]);
});

type Seen = PgStatement & { session: string };

interface Rig {
  pooler: MirroringPooler;
  seen: { primary: Seen[]; mirror: Seen[] };
  url: string;
}

/** Taps in front of both databases (to see what each really got), the pooler in front of the primary's tap. */
async function rig(config: Partial<PoolerConfig>, mirrorVia?: (target: { host: string; port: number }) => Promise<{ host: string; port: number }>): Promise<Rig> {
  const seen = { primary: [] as Seen[], mirror: [] as Seen[] };
  const p = primary as PgCluster;
  const m = mirror as PgCluster;
  const tapP = await PgTap.start({ host: '127.0.93.3', target: { host: p.host, port: p.port }, record: (s, session) => seen.primary.push({ ...s, session: session.client }) });
  const tapM = await PgTap.start({ host: '127.0.93.4', target: { host: m.host, port: m.port }, record: (s, session) => seen.mirror.push({ ...s, session: session.client }) });
  opened.push(tapP, tapM);
  const mirrorTarget = mirrorVia === undefined ? tapM.address : await mirrorVia(tapM.address);
  const pooler = await MirroringPooler.start({ host: '127.0.93.5', primary: tapP.address, mirror: mirrorTarget, exposure: 1, queue: 1000, mirrorTimeoutMs: 5000, seed: 3, ...config });
  opened.push(pooler);
  return { pooler, seen, url: `postgres://postgres@127.0.93.5:${pooler.address.port}/postgres` };
}

/** Each session's statements in order, the sessions in a canonical order. */
function sessionsOf(statements: readonly Seen[]): string[] {
  const by = new Map<string, unknown[]>();
  for (const s of statements) by.set(s.session, [...(by.get(s.session) ?? []), [s.text, s.params, s.sqlstate]]);
  return [...by.values()].map((list) => JSON.stringify(list)).sort();
}

async function metrics(pooler: MirroringPooler): Promise<Record<string, number>> {
  const text = await (await request(pooler.metricsUrl)).body.text();
  return Object.fromEntries(text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]));
}

/** Requests through node-postgres: each query() is one request (a simple query, or an extended batch up to its Sync). */
async function workload(url: string, count: number, tag: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let requests = 0;
  try {
    for (let i = 0; i < count; i++) {
      if (i % 2 === 0) await client.query('INSERT INTO readings (device, value) VALUES ($1, $2)', [`${tag}-${i}`, i]);
      else await client.query(`SELECT count(*) FROM readings WHERE device LIKE '${tag}-%'`);
      requests++;
    }
  } finally {
    await client.end();
  }
  return requests;
}

describe.runIf(ready)('the reference mirroring pooler (mirror-stats spec) between two real PostgreSQL servers', () => {
  it('mirrors every request in session order on its own session, and counts it; an error answer is a query error', async () => {
    const { pooler, seen, url } = await rig({});
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN');
    await client.query('INSERT INTO readings (device, value) VALUES ($1, $2)', ['a', 1]);
    await client.query('SELECT 1 / 0').catch(() => undefined);
    await client.query('ROLLBACK');
    await client.end();
    const requests = 4 + (await workload(url, 20, 'first'));
    await waitFor(() => pooler.mirrorBusy === 0 && seen.mirror.length === seen.primary.length, 'the mirror to catch up');
    expect(seen.primary.length).toBe(requests);
    // The mirror got the same statements, each client session's in its order, with the same SQLSTATEs (sessions are
    // mirrored asynchronously: across sessions the mirror's order is its own).
    expect(sessionsOf(seen.mirror)).toEqual(sessionsOf(seen.primary));
    const m = await metrics(pooler);
    expect(m).toMatchObject({ mirror_requests_total: requests, mirror_requests_mirrored: requests - 1, mirror_requests_dropped: 0, mirror_errors_query: 1, mirror_errors_connection: 0, mirror_errors_timeout: 0, mirror_errors_buffer_full: 0 });
    expect(m.mirror_latency_ms_count).toBe(requests - 1);
  }, 60_000);

  it('exposure: every request counts in the total, about that share is mirrored', async () => {
    const { pooler, seen, url } = await rig({ exposure: 0.5 });
    const requests = await workload(url, 200, 'half');
    await waitFor(() => pooler.mirrorBusy === 0, 'the mirror to catch up');
    const m = await metrics(pooler);
    expect(m.mirror_requests_total).toBe(requests);
    expect(m.mirror_requests_mirrored).toBe(seen.mirror.length);
    expect(seen.mirror.length).toBeGreaterThan(60);
    expect(seen.mirror.length).toBeLessThan(140);
  }, 60_000);

  it('a mirror slower than the primary fills the queue: what does not fit is dropped, counted as a drop and a buffer_full error; the primary path never waits', async () => {
    // A link written for this test that holds every chunk to the mirror for 30 ms.
    const slowLinks: net.Server[] = [];
    const slow = async (target: { host: string; port: number }): Promise<{ host: string; port: number }> => {
      const server = net.createServer((inbound) => {
        const outbound = net.connect(target.port, target.host);
        inbound.on('data', (bytes: Buffer) => setTimeout(() => outbound.write(bytes), 30));
        outbound.on('data', (bytes: Buffer) => inbound.write(bytes));
        inbound.on('close', () => outbound.destroy());
        outbound.on('close', () => inbound.destroy());
        inbound.on('error', () => outbound.destroy());
        outbound.on('error', () => inbound.destroy());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.93.6', resolve));
      slowLinks.push(server);
      return { host: '127.0.93.6', port: (server.address() as net.AddressInfo).port };
    };
    opened.push({ close: () => slowLinks.forEach((s) => s.close()) });
    const { pooler, seen, url } = await rig({ queue: 3 }, slow);
    const requests = (await Promise.all([0, 1, 2, 3].map((i) => workload(url, 40, `busy${i}`)))).reduce((a, b) => a + b, 0);
    await waitFor(() => pooler.mirrorBusy === 0, 'the mirror to catch up', 30_000);
    const m = await metrics(pooler);
    expect(m.mirror_requests_total).toBe(requests);
    expect(m.mirror_requests_dropped).toBeGreaterThan(0);
    expect(m.mirror_errors_buffer_full).toBe(m.mirror_requests_dropped);
    expect((m.mirror_requests_mirrored ?? 0) + (m.mirror_requests_dropped ?? 0)).toBe(requests);
    expect(seen.mirror.length).toBe(m.mirror_requests_mirrored);
    expect(seen.primary.length).toBe(requests);
  }, 60_000);

  it('the mirror database gone mid-run: connection errors, and the clients are served as before', async () => {
    const { pooler, url } = await rig({});
    await workload(url, 10, 'before');
    await waitFor(() => pooler.mirrorBusy === 0, 'the mirror to catch up');
    await (mirror as PgCluster).stop();
    const served = await workload(url, 10, 'after');
    expect(served).toBe(10);
    await waitFor(() => pooler.mirrorBusy === 0, 'the mirror attempts to end');
    const m = await metrics(pooler);
    expect(m.mirror_errors_connection).toBe(10);
    expect(m.mirror_requests_mirrored).toBe(10);
  }, 60_000);
});
