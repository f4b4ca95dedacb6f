import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpBackend } from '../../src/backends/http/http-backend.ts';
import { chromiumPath } from '../../src/report/screenshot.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { runParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const chromium = chromiumPath();
const chromiumReady = requirePrerequisite(chromium !== undefined, 'Chromium (apt-get install chromium) for the HAR import test (Chromium writes the HAR)');
const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0)) await thing.close();
});

const BODY = JSON.stringify({ account: 'ACC-7', lines: [{ sku: 'A', cents: 1250 }, { sku: 'B', cents: 399 }] });

/** A HAR as Chromium records it (through Playwright): a page that POSTs a JSON body and GETs, against a simulated backend. */
async function recordHar(path: string): Promise<void> {
  const backend = await HttpBackend.start({ host: '127.0.93.2', role: 'live' });
  opened.push(backend);
  const { chromium: browserType } = await import('playwright-core');
  const browser = await browserType.launch({ ...(chromium !== undefined && { executablePath: chromium }), args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const context = await browser.newContext({ recordHar: { path, content: 'embed' } });
    const page = await context.newPage();
    await page.goto(`${backend.url}/start`);
    await page.evaluate(async (body) => {
      await (await fetch('/v1/invoices?draft=1', { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': 'north' }, body })).text();
      await (await fetch('/v1/health')).text();
    }, BODY);
    await context.close();
  } finally {
    await browser.close();
  }
}

describe.runIf(chromiumReady)('parity import of a HAR file', () => {
  it('keeps each exchange a browser recorded: method, URL, headers, the bytes of both bodies, status and time', async () => {
    await withTempDir(async (dir) => {
      const har = join(dir, 'checkout.har');
      await recordHar(har);
      const db = join(dir, 'a.duckdb');
      const run = await runParity(['import', har, '--db', db]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/checkout\s*│\s*3\s*│\s*0\s*│\s*0\s*│\s*ok/);
      await withStore(db, async (store) => {
        const rows = await store.query("SELECT * FROM http_exchanges JOIN captures USING (capture_id) WHERE name = 'checkout' ORDER BY idx");
        expect(rows.map((r) => str(r.method))).toEqual(['GET', 'POST', 'GET']);
        const post = rows[1] ?? {};
        expect(str(post.url)).toMatch(/\/v1\/invoices\?draft=1$/);
        expect(Buffer.from(post.request_body as Uint8Array).toString()).toBe(BODY);
        expect(num(post.status)).toBe(200);
        expect(JSON.parse(str(post.request_headers)) as [string, string][]).toContainEqual(['x-tenant', 'north']);
        // The backend answered with the hash of what it got: the body the browser sent, byte for byte.
        const answer = JSON.parse(Buffer.from(post.response_body as Uint8Array).toString()) as { bodySha256: string };
        expect(answer.bodySha256).toBe(createHash('sha256').update(BODY).digest('hex'));
        expect(typeof post.ts_ns === 'bigint' && post.ts_ns > 1_600_000_000_000_000_000n).toBe(true);
        expect(post.missing).toBeNull();
      });
      const listed = await runParity(['captures', 'checkout', '--db', db, '--json']);
      expect((JSON.parse(listed.stdout) as { format: string; httpExchanges: number }[])[0]).toMatchObject({ format: 'har', httpExchanges: 3 });
    });
  });

  it('a HAR cut short keeps its complete entries, is marked partial and names the byte offset; a JSON file that is not HAR is refused in one line', async () => {
    await withTempDir(async (dir) => {
      const har = join(dir, 'full.har');
      await recordHar(har);
      const text = readFileSync(har, 'utf8');
      // Cut inside the last entry: the two before it are whole.
      const lastEntry = text.lastIndexOf('"startedDateTime"');
      const cut = join(dir, 'cut.har');
      writeFileSync(cut, text.slice(0, lastEntry + 40));
      const db = join(dir, 'a.duckdb');
      const run = await runParity(['import', cut, '--db', db]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/cut\.har: cut short or damaged at byte offset \d+: kept the 2 complete entries before it/);
      const listed = JSON.parse((await runParity(['captures', 'cut', '--db', db, '--json'])).stdout) as { partial: boolean; httpExchanges: number }[];
      expect(listed[0]).toMatchObject({ partial: true, httpExchanges: 2 });

      const notHar = join(dir, 'config.json');
      writeFileSync(notHar, '{"log": 3}');
      const refused = await runParity(['import', notHar, '--db', db]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split('\n')).toHaveLength(1);
      expect(refused.stderr).toContain('config.json: not a HAR file');
    });
  });
});
