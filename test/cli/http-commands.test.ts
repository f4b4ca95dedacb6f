import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { num, str, withStore } from '../../src/store/store.ts';
import { writeHttpTraffic } from '../../src/synthetic/http-traffic.ts';
import { killAllParity, runParity, spawnParity, type ParityProcess } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

afterEach(killAllParity);

async function listening(process: ParityProcess): Promise<void> {
  expect(await process.waitForOutput((_out, err) => err.includes('listening')), process.stderr()).toBe(true);
}

describe('parity shadow-proxy and parity http-backend, as processes', () => {
  it('the proxy answers from the live backend; the body-ignoring shadow got every byte and answered as if it had none', async () => {
    const live = spawnParity(['http-backend', '--listen', '127.0.95.2:18095', '--role', 'live', '--json']);
    const shadow = spawnParity(['http-backend', '--listen', '127.0.95.3:18095', '--role', 'shadow', '--ignore-body', '--change-field', 'currency="EUR"', '--json']);
    const proxy = spawnParity(['shadow-proxy', '--listen', '127.0.95.1:18095', '--live', 'http://127.0.95.2:18095', '--shadow', 'http://127.0.95.3:18095', '--json']);
    for (const p of [live, shadow, proxy]) await listening(p);
    const body = JSON.stringify({ cents: 12_345, lines: [1, 2, 3] });
    const answer = await request('http://127.0.95.1:18095/v1/charge', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const json = (await answer.body.json()) as { bodySha256: string; currency: string | null };
    expect(answer.headers['x-backend-role']).toBe('live');
    expect(answer.headers['x-routed-to']).toBe('live');
    expect(json.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(json.currency).toBeNull();
    // The shadow's answer (what a parity check compares) would show the empty body and the changed field.
    const direct = (await (await request('http://127.0.95.3:18095/v1/charge', { method: 'POST', body })).body.json()) as { bodyBytes: number; currency: string };
    expect(direct).toMatchObject({ bodyBytes: 0, currency: 'EUR' });
    expect(await proxy.stop()).toBe(0);
    expect(JSON.parse(proxy.stdout())).toMatchObject({ requests: 1, shadowed: 1, liveErrors: 0 });
    for (const p of [live, shadow]) expect(await p.stop()).toBe(0);
    expect(JSON.parse(live.stdout())).toMatchObject({ role: 'live', received: 1, bodyBytes: body.length });
    // Through the proxy and directly: two requests, each with every byte of the body.
    expect(JSON.parse(shadow.stdout())).toMatchObject({ role: 'shadow', received: 2, bodyBytes: 2 * body.length });
  });

  it('parity replay --proxy sends an imported HAR capture through the proxy as a run of protocol http, and refuses a HAR capture without it', async () => {
    await withTempDir(async (dir) => {
      const har = join(dir, 'billing.har');
      writeHttpTraffic(har, { requests: 120, meanGapMs: 2, seed: 3 });
      const db = join(dir, 'http.duckdb');
      expect((await runParity(['import', har, '--db', db])).code).toBe(0);
      const live = spawnParity(['http-backend', '--listen', '127.0.95.12:18096', '--role', 'live', '--json']);
      const proxy = spawnParity(['shadow-proxy', '--listen', '127.0.95.11:18096', '--live', 'http://127.0.95.12:18096', '--json']);
      for (const p of [live, proxy]) await listening(p);
      const replay = await runParity(['replay', 'billing', '--proxy', 'http://127.0.95.11:18096', '--rate', '500pps', '--connections', '8', '--run', 'billing-1', '--db', db, '--json']);
      expect(replay.code, replay.stderr).toBe(0);
      expect(JSON.parse(replay.stdout)).toMatchObject({ run: 'billing-1', status: 'completed', planned: 120, sent: 120, answered: 120, errors: 0 });
      expect(await proxy.stop()).toBe(0);
      expect(JSON.parse(proxy.stdout())).toMatchObject({ requests: 120, shadowed: 0 });
      expect(await live.stop()).toBe(0);
      expect(JSON.parse(live.stdout())).toMatchObject({ received: 120 });
      await withStore(db, async (store) => {
        const [run] = await store.query("SELECT protocol, status, (SELECT count(*) FROM http_sends s WHERE s.run_id = r.run_id AND s.status = 200) AS ok FROM runs r WHERE name = 'billing-1'");
        expect([str(run?.protocol), str(run?.status), num(run?.ok)]).toEqual(['http', 'completed', 120]);
      });
      const refused = await runParity(['replay', 'billing', '--relay', '127.0.0.1', '--db', db]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim()).toBe('parity: capture "billing" is HTTP (120 exchanges, no UDP): replay it through a shadowing proxy with --proxy URL');
      // A flag the replay at hand would not read is refused by name before anything is sent, not left to do nothing.
      for (const [args, says] of [
        [['--proxy', 'http://127.0.95.11:18096', '--ack-timeout', '5s'], 'parity: --ack-timeout applies to a UDP replay through --relay, not to an HTTP replay through --proxy'],
        [['--proxy', 'http://127.0.95.11:18096', '--protocol', 'generic'], 'parity: --protocol applies to a UDP replay through --relay, not to an HTTP replay through --proxy'],
        [['--proxy', 'postgres://127.0.95.11:15499', '--connections', '8'], 'parity: --connections applies to an HTTP replay through --proxy, not to a Postgres replay through --proxy postgres://'],
        [['--relay', '127.0.0.1', '--connections', '8'], 'parity: --connections applies to an HTTP replay through --proxy, not to a UDP replay through --relay'],
      ] as const) {
        const wrong = await runParity(['replay', 'billing', ...args, '--db', db]);
        expect(wrong.code, args.join(' ')).toBe(2);
        expect(wrong.stderr.trim(), args.join(' ')).toBe(says);
      }
      expect((JSON.parse((await runParity(['runs', '--db', db, '--json'])).stdout) as { name: string }[]).map((run) => run.name)).toEqual(['billing-1']);
    });
  });
});
