import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { killAllParity, spawnParity, type ParityProcess } from '../helpers/run-parity.ts';

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
});
