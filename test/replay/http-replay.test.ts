import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { analyseRun } from '../../src/analyse/analyse-run.ts';
import { HttpBackend } from '../../src/backends/http/http-backend.ts';
import { importHarFile } from '../../src/capture/http/import-har.ts';
import { payloadHash } from '../../src/core/payload-hash.ts';
import { ShadowProxy } from '../../src/relay/http/shadow-proxy.ts';
import { replayHttpCapture } from '../../src/replay/http/http-replay.ts';
import { getRun } from '../../src/store/runs.ts';
import { num, str, withStore } from '../../src/store/store.ts';
import { listenHttp } from '../helpers/http-target.ts';
import { establishedTo } from '../helpers/tcp-connections.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

/** A HAR 1.2 document: `count` POSTs with JSON bodies 100 ms apart, one GET without a body, one entry without its body. */
function harDocument(count: number): { har: string; bodies: string[] } {
  const start = Date.parse('2026-11-28T08:00:00.000Z');
  const bodies = Array.from({ length: count }, (_, i) => JSON.stringify({ invoice: i, cents: 100 + i }));
  const entry = (i: number, method: string, body: string | null, bodySize = body?.length ?? 0): object => ({
    startedDateTime: new Date(start + i * 100).toISOString(),
    time: 3.5,
    request: {
      method,
      url: `https://billing.example/v1/invoices/${i}?draft=1`,
      httpVersion: 'HTTP/1.1',
      headers: [{ name: 'Host', value: 'billing.example' }, { name: 'Content-Type', value: 'application/json' }, { name: 'X-Tenant', value: 'north' }],
      queryString: [],
      ...(body !== null && { postData: { mimeType: 'application/json', text: body } }),
      headersSize: -1,
      bodySize,
    },
    response: { status: 200, statusText: 'OK', httpVersion: 'HTTP/1.1', headers: [], content: { size: 2, mimeType: 'application/json', text: '{}' }, redirectURL: '', headersSize: -1, bodySize: 2 },
    cache: {},
    timings: { send: 0, wait: 3, receive: 0.5 },
  });
  const entries = [...bodies.map((body, i) => entry(i, 'POST', body)), entry(count, 'GET', null), entry(count + 1, 'POST', null, 512)];
  return { har: JSON.stringify({ log: { version: '1.2', creator: { name: 'test', version: '1' }, entries } }), bodies };
}

describe('replaying an HTTP capture through a shadowing proxy', () => {
  it('sends every recorded request at its time, each with its own request id, and both upstreams get the same bytes', async () => {
    await withTempDir(async (dir) => {
      const { har, bodies } = harDocument(20);
      writeFileSync(join(dir, 'billing.har'), har);
      const live = await HttpBackend.start({ host: '127.0.96.2', role: 'live' });
      const shadow = await HttpBackend.start({ host: '127.0.96.3', role: 'shadow' });
      const proxy = await ShadowProxy.start({ host: '127.0.96.1', live: live.url, shadow: shadow.url });
      opened.push(live, shadow, proxy);
      await withStore(join(dir, 'a.duckdb'), async (store) => {
        const imported = await importHarFile(store, join(dir, 'billing.har'));
        expect(imported).toMatchObject({ exchanges: 22, incomplete: 1 });
        const result = await replayHttpCapture({ store, capture: 'billing', target: proxy.url, plan: { pace: { kind: 'original', speed: 4 }, loops: 1, durationMs: undefined, sample: 1, seed: 1 }, runName: 'billing-1' });
        // The entry whose body the file left out is not replayed: 20 POSTs and the GET.
        expect(result.stats).toMatchObject({ planned: 21, sent: 21, answered: 21, errors: 0 });
        expect(result.status).toBe('completed');
        expect((await getRun(store, 'billing-1')).protocol).toBe('http');
        // Judged as HTTP; these backends record nothing in the store, so no backend leg is observed, and that is said.
        const analysis = await analyseRun(store, 'billing-1');
        expect(analysis.protocol).toBe('http');
        expect(analysis.findings.map((f) => f.message)).toContain('no backend leg was observed (no simulated backend, tap or live capture recorded one): only what the clients saw is analysed');
        const sends = await store.query("SELECT * FROM http_sends JOIN runs USING (run_id) WHERE name = 'billing-1' ORDER BY send_no");
        expect(sends.map((s) => str(s.request_id))).toEqual(Array.from({ length: 21 }, (_, i) => `billing-1-${i}`));
        expect(sends.every((s) => num(s.status) === 200 && str(s.routed_to) === 'live')).toBe(true);
        // The answer's headers are kept as they came: the backend's role, the proxy's explainability headers.
        expect(JSON.parse(str(sends[0]?.response_headers))).toMatchObject({ 'x-backend-role': 'live', 'x-routed-to': 'live', 'x-request-id': 'billing-1-0', 'content-type': 'application/json' });
        // Original timing x4: 100 ms apart in the file, 25 ms apart in the replay.
        const gapMs = (num(sends[10]?.scheduled_ns) - num(sends[0]?.scheduled_ns)) / 1e6;
        expect(gapMs).toBeCloseTo(250, 0);
        await waitFor(() => shadow.received.length === 21, 'the shadow to receive every request');
        for (const backend of [live, shadow]) {
          const byId = new Map(backend.received.map((r) => [r.requestId, r]));
          bodies.forEach((body, i) => {
            const got = byId.get(`billing-1-${i}`);
            expect(got?.body.toString()).toBe(body);
            expect(got?.path).toBe(`/v1/invoices/${i}?draft=1`);
            expect(got?.headers['x-tenant']).toBe('north');
            expect(payloadHash(new Uint8Array(got?.body ?? Buffer.alloc(0)))).toBe(num(sends[i]?.body_hash));
          });
        }
      });
    });
  });

  it('opens the connections its first sends need before its clock starts, and what it warms up with never reaches the target', async () => {
    await withTempDir(async (dir) => {
      // The target: a plain Node server that notes each connection it accepts and each request, and, at the first
      // request, how many connections to it the kernel holds established from the client's side. That count, not
      // the order of the server's events, is what says the connections were opened ahead: on a busy machine the
      // kernel handed the server its last handshakes after a request on another connection (18 of 21 accepted
      // before the first request, CI on 2026-12-03 and again on 2026-12-04) though every one had connected.
      const events: { kind: 'connection' | 'request'; id?: string }[] = [];
      let establishedAtFirstRequest: number | undefined;
      const server = createServer((request, response) => {
        establishedAtFirstRequest ??= establishedTo('127.0.96.5', port);
        events.push({ kind: 'request', id: String(request.headers['x-request-id']) });
        request.resume();
        request.on('end', () => response.end('{}'));
      }).on('connection', () => events.push({ kind: 'connection' }));
      const target = await listenHttp(server, '127.0.96.5');
      const port = Number(new URL(target.url).port);
      writeFileSync(join(dir, 'billing.har'), harDocument(20).har);
      await withStore(join(dir, 'a.duckdb'), async (store) => {
        await importHarFile(store, join(dir, 'billing.har'));
        // 400 requests a second: all 21 fall within the first 100 ms, so 21 connections are opened ahead.
        const plan = { pace: { kind: 'rate', ratePps: 400 }, loops: 1, durationMs: undefined, sample: 1, seed: 1 } as const;
        const result = await replayHttpCapture({ store, capture: 'billing', target: target.url, plan, runName: 'ready-1' });
        expect(result.stats).toMatchObject({ sent: 21, answered: 21, errors: 0 });
      });
      await target.close();
      // Opened as the requests came instead, the first would find one connection, the others following 2.5 ms apart.
      expect(establishedAtFirstRequest).toBeGreaterThanOrEqual(21);
      expect(events.filter((e) => e.kind === 'connection').length).toBeLessThanOrEqual(64);
      const ids = events.filter((e) => e.kind === 'request').map((e) => e.id);
      expect(ids.sort()).toEqual(Array.from({ length: 21 }, (_, i) => `ready-1-${i}`).sort());
    });
  });

  it('a UDP capture is refused for an HTTP replay, in words', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'a.duckdb'), async (store) => {
        await store.exec("INSERT INTO captures (name, source, format, finished) VALUES ('udp-one', 'x.pcap', 'pcap', true)");
        await expect(replayHttpCapture({ store, capture: 'udp-one', target: 'http://127.0.96.9:1', plan: { pace: { kind: 'max' }, loops: 1, durationMs: undefined, sample: 1, seed: 1 } })).rejects.toThrow(/capture "udp-one" has no HTTP exchanges: an HTTP replay takes a capture imported from a HAR file, or a pcap with HTTP\/1.x over TCP/);
      });
    });
  });
});

