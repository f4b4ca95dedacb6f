import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildUdpFrame } from '../../src/capture/frame-builder.ts';
import { listCaptures } from '../../src/capture/capture-catalog.ts';
import { str, withStore } from '../../src/store/store.ts';
import { pcapngSection } from '../helpers/capture-bytes.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/**
 * Times the store cannot hold (its nanoseconds since the epoch end in April 2262). A fuzzed pcapng found the first:
 * written on, such a time wrapped to another or failed the store's write with DuckDB's conversion error, naming the
 * store instead of the file, and the import ended with nothing flagged. Each format's reader now treats it as damage.
 */
interface Listed {
  partial: boolean;
  error: string | null;
  keptDatagrams: number;
  httpExchanges: number;
  wsFrames: number;
  pgStatements: number;
}

async function importOne(dir: string, name: string, bytes: string | Uint8Array): Promise<{ code: number | null; stdout: string; stderr: string; listed: Listed }> {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const db = join(dir, `${name}.duckdb`);
  const run = await runParity(['import', file, '--name', 'far', '--db', db]);
  expect(run.stderr).not.toMatch(/Conversion Error|INT64/);
  const listed = await withStore(db, async (store) => (await listCaptures(store, 'far'))[0] as Listed);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, listed };
}

const frame = (text: string): Uint8Array => buildUdpFrame({ srcIp: '10.1.2.3', dstIp: '10.9.9.9', srcPort: 40000, dstPort: 20500, payload: Buffer.from(text) });

/** One csvlog row (PostgreSQL's 23 columns, quoted as it quotes them) logging a simple statement at `time`. */
function csvlogRow(time: string, sql: string): string {
  return `${time},"postgres","ledger",100,"127.0.0.1:5000",6750f0a1.64,1,"idle",${time},3/1,0,LOG,00000,"statement: ${sql}",,,,,,,,,"psql"\n`;
}

describe('times past what the store holds', () => {
  it('pcapng: the file stops at the block, its frames before it kept, the capture partial, exit 2 with one line naming the offset', async () => {
    await withTempDir(async (dir) => {
      const head = pcapngSection(true, [
        { kind: 'section', interfaces: [{ linkType: 1 }] },
        { kind: 'epb', interfaceId: 0, units: 1_700_000_000_000_000n, frame: frame('kept') },
      ]);
      const far = pcapngSection(true, [{ kind: 'epb', interfaceId: 0, units: 0xffff_ffff_0000_0000n, frame: frame('far') }]);
      const { code, stderr, listed } = await importOne(dir, 'far.pcapng', Buffer.concat([head, far]));
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(`far.pcapng: packet block timestamp outside 1970-2262 (18446744069414 s since the epoch) at byte offset ${head.length}`);
      expect(listed).toMatchObject({ partial: true, keptDatagrams: 1 });
    });
  });

  it('HAR: the entry is kept and flagged as recorded without its start time', async () => {
    await withTempDir(async (dir) => {
      const entry = (started: string, path: string): object => ({
        startedDateTime: started,
        time: 5,
        request: { method: 'GET', url: `http://127.0.0.1:8080${path}`, httpVersion: 'HTTP/1.1', headers: [], bodySize: 0 },
        response: { status: 200, httpVersion: 'HTTP/1.1', headers: [], content: { size: 2, mimeType: 'text/plain', text: 'ok' }, bodySize: 2 },
      });
      const har = { log: { version: '1.2', creator: { name: 'test', version: '1' }, entries: [entry('2026-01-01T00:00:00.000Z', '/a'), entry('3000-01-01T00:00:00.000Z', '/b')] } };
      const { code, stdout, listed } = await importOne(dir, 'far.har', JSON.stringify(har));
      expect(code).toBe(0);
      expect(listed).toMatchObject({ partial: false, httpExchanges: 2 });
      // capture, HTTP exchanges, recorded in part
      expect(stdout).toMatch(/far\s*│\s*2\s*│\s*1\s*│/);
      await withStore(join(dir, 'far.har.duckdb'), async (store) => {
        const rows = await store.query('SELECT url, ts_ns, missing FROM http_exchanges ORDER BY idx');
        expect(rows.map((r) => [str(r.url).slice(-2), r.missing])).toEqual([['/a', null], ['/b', 'startedDateTime']]);
        expect(rows[0]?.ts_ns).toBe(1_767_225_600_000_000_000n);
      });
    });
  });

  it.each([
    ['epoch milliseconds', '1e20', '100000000000000000000'],
    ['an ISO date', '"3000-01-01T00:00:00Z"', '"3000-01-01T00:00:00Z"'],
  ])('frame recording: a line whose time is %s past 2262 ends the file there, the frames before it kept', async (_what, ts, shown) => {
    await withTempDir(async (dir) => {
      const text = `{"ts":1.7e12,"text":"a"}\n{"ts":${ts},"text":"b"}\n{"ts":1.7e12,"text":"c"}\n`;
      const { code, stderr, listed } = await importOne(dir, 'far.ndjson', text);
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain(`far.ndjson: line 2 (byte offset 25) has time ${shown}, not epoch milliseconds or an ISO date in 1970-2262; the 1 frames before it are kept`);
      expect(listed).toMatchObject({ partial: true, wsFrames: 1 });
    });
  });

  it("csvlog: a row whose log_time is past 2262 ends the log there, the statements before it kept", async () => {
    await withTempDir(async (dir) => {
      const log = csvlogRow('2026-01-01 00:00:00.000 UTC', 'SELECT 1') + csvlogRow('3000-01-01 00:00:00.000 UTC', 'SELECT 2') + csvlogRow('2026-01-01 00:00:01.000 UTC', 'SELECT 3');
      const { code, stderr, listed } = await importOne(dir, 'far.csv', log);
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toContain('far.csv: row 2 has log_time "3000-01-01 00:00:00.000 UTC", not a time in 1970-2262; the 1 statements before it are kept');
      expect(listed).toMatchObject({ partial: true, pgStatements: 1 });
    });
  });
});
