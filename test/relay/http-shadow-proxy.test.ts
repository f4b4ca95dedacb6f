import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { HttpBackend, type HttpBackendFaults } from '../../src/backends/http/http-backend.ts';
import { ShadowProxy } from '../../src/relay/http/shadow-proxy.ts';
import { listenTcp } from '../helpers/tcp-peer.ts';
import { waitFor } from '../helpers/wait-for.ts';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

async function rig(shadowFaults: HttpBackendFaults = {}, options: { shadowTimeoutMs?: number; shadow?: boolean } = {}): Promise<{ live: HttpBackend; shadow: HttpBackend; proxy: ShadowProxy }> {
  const live = await HttpBackend.start({ host: '127.0.91.2', role: 'live' });
  const shadow = await HttpBackend.start({ host: '127.0.91.3', role: 'shadow', faults: shadowFaults });
  const proxy = await ShadowProxy.start({ host: '127.0.91.1', live: live.url, shadow: options.shadow === false ? null : shadow.url, ...(options.shadowTimeoutMs !== undefined && { shadowTimeoutMs: options.shadowTimeoutMs }) });
  opened.push(live, shadow, proxy);
  return { live, shadow, proxy };
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('the reference shadowing proxy', () => {
  it('gives the shadow the same method, path, headers and body bytes as the live upstream, and the client only the live answer', async () => {
    const { live, shadow, proxy } = await rig();
    const body = Buffer.from(JSON.stringify({ account: 'ACC-1', lines: Array.from({ length: 5000 }, (_, i) => ({ sku: i, cents: i * 7 })) }));
    const answer = await request(`${proxy.url}/v1/invoices?draft=1`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tenant': 'north' }, body });
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['x-backend-role']).toBe('live');
    expect(answer.headers['x-routed-to']).toBe('live');
    expect(answer.headers['x-route-reason']).toBe(`shadowed to ${new URL(shadow.url).host}`);
    expect(JSON.parse(text)).toMatchObject({ method: 'POST', path: '/v1/invoices?draft=1', bodyBytes: body.length, bodySha256: sha(body) });
    await waitFor(() => shadow.received.length === 1, 'the shadow to receive the request');
    const [atLive, atShadow] = [live.received[0], shadow.received[0]];
    for (const seen of [atLive, atShadow]) {
      expect(seen?.method).toBe('POST');
      expect(seen?.path).toBe('/v1/invoices?draft=1');
      expect(sha(seen?.body ?? Buffer.alloc(0))).toBe(sha(body));
      expect(seen?.contentLength).toBe(body.length);
      expect(seen?.headers['x-tenant']).toBe('north');
      expect(seen?.headers['content-type']).toBe('application/json');
      // One id for the request on every leg, and the client is told it.
      expect(seen?.requestId).toBe(answer.headers['x-request-id']);
    }
  });

  it('sends a body the client streamed in chunks with a Content-Length that matches it, and a GET with none', async () => {
    const { shadow, proxy } = await rig();
    const parts = ['{"a":', '1,"b":', '[1,2,3]}'];
    const answer = await request(`${proxy.url}/chunked`, {
      method: 'PUT',
      body: Readable.from(parts.map((part) => Buffer.from(part))),
    });
    await answer.body.dump();
    const get = await request(`${proxy.url}/health`, { headers: { 'x-request-id': 'client-chosen-7' } });
    await get.body.dump();
    expect(get.headers['x-request-id']).toBe('client-chosen-7');
    await waitFor(() => shadow.received.length === 2, 'the shadow to receive both requests');
    const put = shadow.received.find((r) => r.method === 'PUT');
    expect(put?.body.toString()).toBe(parts.join(''));
    expect(put?.contentLength).toBe(parts.join('').length);
    expect(put?.headers['transfer-encoding']).toBeUndefined();
    const health = shadow.received.find((r) => r.method === 'GET');
    expect(health?.body.length).toBe(0);
    expect(health?.requestId).toBe('client-chosen-7');
  });

  it('a failing shadow (503s, reset connections) never reaches the client, and is counted', async () => {
    const failing = await rig({ errorShare: 1 });
    const resetting = await rig({ resetShare: 1 });
    for (const { proxy } of [failing, resetting]) {
      for (let i = 0; i < 5; i++) {
        const answer = await request(`${proxy.url}/pay`, { method: 'POST', body: `{"n":${i}}` });
        expect(answer.statusCode).toBe(200);
        expect(answer.headers['x-backend-role']).toBe('live');
        await answer.body.dump();
      }
    }
    await waitFor(() => failing.proxy.stats.shadowFailures.status5xx === 5 && resetting.proxy.stats.shadowFailures.connection === 5, 'every shadow failure to be counted');
    expect(failing.proxy.stats.liveErrors + resetting.proxy.stats.liveErrors).toBe(0);
  });

  it('the client has its answer while the shadow is still working on the same request; a shadow past its deadline is given up', async () => {
    const { live, shadow, proxy } = await rig({ latencyMs: 5000 }, { shadowTimeoutMs: 10_000 });
    const answer = await request(`${proxy.url}/slow-shadow`, { method: 'POST', body: '{}' });
    await answer.body.dump();
    expect(answer.statusCode).toBe(200);
    // Causality, not timing: the live answer came back while the shadow had the request and had not answered it.
    expect(live.answered).toBe(1);
    expect(shadow.received.length).toBeLessThanOrEqual(1);
    expect(shadow.answered).toBe(0);
    expect(proxy.stats.shadowInFlight).toBe(1);

    const timed = await rig({ latencyMs: 3000 }, { shadowTimeoutMs: 100 });
    await (await request(`${timed.proxy.url}/x`, { method: 'POST', body: '{}' })).body.dump();
    await waitFor(() => timed.proxy.stats.shadowFailures.timeout === 1, 'the shadow past its deadline to be given up');
  });

  it('with no shadow configured, proxies to the live upstream alone and says so', async () => {
    const { shadow, proxy } = await rig({}, { shadow: false });
    const answer = await request(`${proxy.url}/baseline`);
    await answer.body.dump();
    expect(answer.headers['x-route-reason']).toBe('no shadow configured');
    expect(shadow.received).toHaveLength(0);
    expect(proxy.stats.shadowed).toBe(0);
  });

  it('a simulated backend that ignores bodies answers as if the body were empty, and still records what it got', async () => {
    const backend = await HttpBackend.start({ host: '127.0.91.4', role: 'shadow', faults: { ignoreBody: true, changedField: { name: 'currency', value: 'EUR' } } });
    opened.push(backend);
    const answer = await request(`${backend.url}/v1/charge`, { method: 'POST', body: '{"cents":100}' });
    const json = (await answer.body.json()) as Record<string, unknown>;
    expect(json).toMatchObject({ bodyBytes: 0, bodySha256: sha(Buffer.alloc(0)), currency: 'EUR' });
    expect(backend.received[0]?.body.toString()).toBe('{"cents":100}');
  });

  it('tells the client in its own time when the live upstream does not answer: a 504, counted apart from failures', async () => {
    // Written here, not a simulated backend: one live upstream that reads and never answers, one that sends its
    // headers and half a body and then nothing more.
    const silent = await listenTcp('127.0.91.5');
    const stalled = await listenTcp('127.0.91.6', (socket) => socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nhalf of it')));
    opened.push(silent, stalled);
    for (const [i, upstream] of [silent, stalled].entries()) {
      const proxy = await ShadowProxy.start({ host: '127.0.91.1', live: `http://127.0.91.${5 + i}:${upstream.port}`, shadow: null, liveTimeoutMs: 300 });
      opened.push(proxy);
      const answer = await request(`${proxy.url}/charge`, { method: 'POST', body: '{"cents":100}', headersTimeout: 10_000 });
      expect(answer.statusCode).toBe(504);
      expect(answer.headers['x-route-reason']).toBe('live upstream timed out');
      expect(await answer.body.text()).toBe('live upstream did not answer within 300 ms\n');
      expect(proxy.stats).toMatchObject({ requests: 1, liveTimeouts: 1, liveErrors: 0 });
    }
  });
});
