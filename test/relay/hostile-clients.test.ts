import net from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HttpBackend } from '../../src/backends/http/http-backend.ts';
import { Gateway } from '../../src/backends/ws/gateway.ts';
import { HttpTap } from '../../src/observe/http-tap.ts';
import { WsTap } from '../../src/observe/ws-tap.ts';
import { ControlPlane } from '../../src/relay/control/control-plane.ts';
import { ShadowProxy } from '../../src/relay/http/shadow-proxy.ts';
import { readAgentConfig } from '../../src/relay/ws/agent-config.ts';
import { RelayAgent } from '../../src/relay/ws/relay-agent.ts';
import { listenTcp } from '../helpers/tcp-peer.ts';
import { waitFor } from '../helpers/wait-for.ts';

// The reference servers meet clients that misbehave on the wire: one that hangs up halfway through a request's body,
// one that breaks the WebSocket protocol, and a stream of mangled bytes. Each must stay up, serve the next client, and
// count what it could not take; before, each of these ended the process (an unhandled rejection or 'error' event).

const opened: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

function hostPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

/** Sends `bytes` on a fresh connection and hangs up (reset) once they are written: a client gone mid-request. */
async function sendAndVanish(url: string, bytes: string | Buffer): Promise<void> {
  const { host, port } = hostPort(url);
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, host, () => socket.write(bytes, () => setTimeout(() => socket.resetAndDestroy(), 20)));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** The raw bytes of a WebSocket upgrade to `path`, followed by `frames` (already encoded). */
function upgradeWith(path: string, frames: Buffer): Buffer {
  const head = `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), frames]);
}

/** A masked text frame with RSV1 set, which no extension was agreed for: a protocol error (RFC 6455 5.2). */
const RSV1_FRAME = Buffer.from([0xc1, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);

/** Writes an upgrade and a bad frame, and resolves with what the server did: the close code it sent, or how it ended. */
async function breakProtocol(url: string, path: string): Promise<string> {
  const { host, port } = hostPort(url);
  return await new Promise<string>((resolve) => {
    let got = Buffer.alloc(0);
    const socket = net.connect(port, host, () => socket.write(upgradeWith(path, RSV1_FRAME)));
    socket.on('data', (data) => (got = Buffer.concat([got, data])));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const head = got.indexOf('\r\n\r\n');
      const code = head < 0 ? undefined : closeCode(got.subarray(head + 4));
      resolve(code === undefined ? `ended without a close frame (${got.length} bytes)` : `closed ${code}`);
    });
  });
}

/** The code of the close frame among a server's (unmasked) frames, if one came (RFC 6455 5.2, 5.5.1). */
function closeCode(frames: Buffer): number | undefined {
  let at = 0;
  while (at + 2 <= frames.length) {
    const opcode = (frames[at] as number) & 0x0f;
    const short = (frames[at + 1] as number) & 0x7f;
    const lengthBytes = short === 126 ? 2 : short === 127 ? 8 : 0;
    const length = short === 126 ? frames.readUInt16BE(at + 2) : short === 127 ? Number(frames.readBigUInt64BE(at + 2)) : short;
    const payload = at + 2 + lengthBytes;
    if (opcode === 0x8) return length >= 2 ? frames.readUInt16BE(payload) : undefined;
    at = payload + length;
  }
  return undefined;
}

/** A small, seeded stream of mangled requests: the seed's bytes cut, flipped or followed by noise. */
async function mangle(url: string, seeds: readonly Buffer[], count: number): Promise<void> {
  const { host, port } = hostPort(url);
  let state = 7;
  const next = (n: number): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state % n;
  };
  for (let i = 0; i < count; i++) {
    const seed = seeds[next(seeds.length)] as Buffer;
    const bytes = Buffer.from(seed);
    const how = next(3);
    const mangled = how === 0 ? bytes.subarray(0, next(bytes.length)) : how === 1 ? (bytes.fill(next(256), next(bytes.length), next(bytes.length) + 1), bytes) : Buffer.concat([bytes, Buffer.from(Array.from({ length: next(40) }, () => next(256)))]);
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, host, () => socket.end(mangled));
      const timer = setTimeout(() => socket.destroy(), 500);
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

const HTTP_SEEDS = [
  Buffer.from('POST /api/v1/readings HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{"speed":42}'),
  Buffer.from('POST /api/v1/readings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n{"speed":42}\r\n0\r\n\r\n'),
  Buffer.from('GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n'),
];
const WS_SEEDS = [upgradeWith('/relay', Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])), upgradeWith('/connect', RSV1_FRAME), ...HTTP_SEEDS];

const PARTIAL_POST = 'POST /api/v1/readings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"speed":';

async function postReading(url: string): Promise<number> {
  const answer = await request(new URL('/api/v1/readings', url), { method: 'POST', body: '{"speed":42}', headers: { 'content-type': 'application/json' } });
  await answer.body.dump();
  return answer.statusCode;
}

describe('the HTTP reference servers and tap with a client that hangs up mid-body', () => {
  it('the shadowing proxy and both backends count the request that never arrived whole, send nothing on, and serve the next', async () => {
    const live = await HttpBackend.start({ host: '127.0.97.1', role: 'live' });
    const shadow = await HttpBackend.start({ host: '127.0.97.2', role: 'shadow' });
    opened.push(live, shadow);
    const proxy = await ShadowProxy.start({ host: '127.0.97.3', live: live.url, shadow: shadow.url });
    opened.push(proxy);
    await sendAndVanish(proxy.url, PARTIAL_POST);
    await waitFor(() => proxy.stats.clientsGone === 1, 'the proxy to count the request its client left');
    expect(await postReading(proxy.url)).toBe(200);
    await waitFor(() => shadow.received.length === 1, 'the shadow copy of the whole request');
    expect(proxy.stats).toMatchObject({ requests: 2, clientsGone: 1, liveErrors: 0, shadowed: 1 });
    expect(live.received.map((r) => r.body.toString())).toEqual(['{"speed":42}']);
    // A backend met by such a client directly counts it apart, and a drain does not wait for it.
    await sendAndVanish(live.url, PARTIAL_POST);
    await waitFor(() => live.clientsGone === 1, 'the live backend to count the request its client left');
    expect(live.unsettled()).toBe(0);
    expect(await postReading(live.url)).toBe(200);
    expect(live.received).toHaveLength(2);
  });

  it('the shadowing proxy refuses a body over its limit with a 413 the client gets, and forwards nothing', async () => {
    const live = await HttpBackend.start({ host: '127.0.97.4', role: 'live' });
    opened.push(live);
    const proxy = await ShadowProxy.start({ host: '127.0.97.5', live: live.url, shadow: null, maxBodyBytes: 1024 });
    opened.push(proxy);
    const answer = await request(new URL('/api/v1/readings', proxy.url), { method: 'POST', body: 'x'.repeat(200_000) });
    expect(answer.statusCode).toBe(413);
    expect(await answer.body.text()).toBe('request body too large\n');
    expect(live.receivedCount).toBe(0);
    expect(await postReading(proxy.url)).toBe(200);
  });

  it('the HTTP tap names the request it could not pass on, and records the next', async () => {
    const backend = await HttpBackend.start({ host: '127.0.97.6', role: 'live' });
    opened.push(backend);
    const recorded: string[] = [];
    const tap = await HttpTap.start({ host: '127.0.97.7', target: backend.url, record: (receipt) => recorded.push(receipt.body.toString()) });
    opened.push(tap);
    await sendAndVanish(tap.url, PARTIAL_POST);
    await waitFor(() => Object.keys(tap.counters.errors).length === 1, 'the tap to count the request it could not pass on');
    expect(tap.counters.errors).toEqual({ 'requests cut off mid-body by the proxy': 1 });
    expect(tap.unsettled()).toBe(0);
    expect(await postReading(tap.url)).toBe(200);
    expect(recorded).toEqual(['{"speed":42}']);
  });

  it('the HTTP tap in front of a backend that never answers closes at once, recording the request it still held as unanswered', async () => {
    const silent = await listenTcp('127.0.97.15');
    opened.push(silent);
    const recorded: (number | null)[] = [];
    const tap = await HttpTap.start({ host: '127.0.97.16', target: `http://127.0.97.15:${silent.port}`, record: (receipt) => recorded.push(receipt.answer?.status ?? null) });
    const waiting = request(new URL('/api/v1/readings', tap.url), { method: 'POST', body: '{"speed":42}' }).then((answer) => answer.statusCode, () => 'no answer');
    await waitFor(() => tap.unsettled() === 1, 'the request to be held by the silent backend');
    const started = Date.now();
    await tap.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(recorded).toEqual([null]);
    expect(Object.values(tap.counters.errors).reduce((sum, n) => sum + n, 0)).toBe(1);
    await waiting;
  });

  it('a run of mangled requests leaves the proxy and a backend serving', async () => {
    const live = await HttpBackend.start({ host: '127.0.97.8', role: 'live' });
    opened.push(live);
    const proxy = await ShadowProxy.start({ host: '127.0.97.9', live: live.url, shadow: null });
    opened.push(proxy);
    await mangle(proxy.url, HTTP_SEEDS, 150);
    await mangle(live.url, HTTP_SEEDS, 150);
    expect(await postReading(proxy.url)).toBe(200);
    expect(await postReading(live.url)).toBe(200);
  });
});

describe('the WebSocket reference servers and tap with a peer that breaks the protocol', () => {
  it('a gateway closes that connection with 1002, says why in its diagnostics, and takes frames on the next', async () => {
    const gateway = await Gateway.start({ host: '127.0.97.10', name: 'g' });
    opened.push(gateway);
    expect(await breakProtocol(gateway.url, '/relay')).toBe('closed 1002');
    await waitFor(() => gateway.lastError !== null, 'the gateway to note the broken connection');
    expect(gateway.lastError).toMatch(/^a connection broke the WebSocket protocol: .*RSV1/);
    const feed = new WebSocket(gateway.url);
    await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
    feed.send(JSON.stringify({ sessionId: 's', stream: 'baseline', seq: 1, ts: 1, ack: true }));
    const ack = await new Promise<string>((resolve) => feed.once('message', (data) => resolve(data.toString())));
    feed.close();
    expect(JSON.parse(ack)).toEqual({ type: 'ack', stream: 'baseline', seq: 1 });
    await mangle(gateway.url, WS_SEEDS, 150);
    expect(gateway.framesIn).toBeGreaterThanOrEqual(1);
  });

  it('the control plane records the broken connection as a disconnect that says why, and serves the next data plane', async () => {
    const plane = await ControlPlane.start({ host: '127.0.97.11', validate: (config) => config });
    opened.push(plane);
    plane.publish({ version: '1' });
    expect(await breakProtocol(plane.url, '/connect')).toBe('closed 1002');
    await waitFor(() => plane.events.some((e) => e.event === 'disconnected'), 'the disconnect');
    expect(plane.events.find((e) => e.event === 'disconnected')?.detail).toMatch(/^broke the WebSocket protocol: .*RSV1/);
    const dp = new WebSocket(`${plane.url}?dp=edge-1`);
    const snapshot = await new Promise<string>((resolve, reject) => dp.once('message', (data) => resolve(data.toString())).once('error', reject));
    dp.terminate();
    expect(JSON.parse(snapshot)).toEqual({ type: 'config_snapshot', config: { version: '1' } });
    await mangle(plane.url, WS_SEEDS, 150);
    const health = await request(new URL('/health', plane.url.replace('ws:', 'http:')));
    expect(health.statusCode).toBe(200);
    await health.body.dump();
  });

  it("the relay agent's ingest drops the broken producer and fans out the next one's frames", async () => {
    const gateway = await Gateway.start({ host: '127.0.97.12', name: 'g' });
    opened.push(gateway);
    const agent = await RelayAgent.start(readAgentConfig({ RELAY_BACKENDS: gateway.url, RELAY_DEBUG_PORT: '0', RELAY_INGEST_PORT: '0' }));
    opened.push(agent);
    const ingest = `ws://127.0.0.1:${agent.ingestPort}`;
    expect(await breakProtocol(ingest, '/')).toBe('closed 1002');
    await mangle(ingest, WS_SEEDS, 150);
    await waitFor(() => agent.targets.every((t) => t.state === 'connected'), 'the target to connect');
    const feed = new WebSocket(ingest);
    await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
    feed.send(JSON.stringify({ sessionId: 's', stream: 'baseline', seq: 1, ts: 1 }));
    await waitFor(() => gateway.framesIn >= 1, 'the frame to reach the gateway');
    feed.close();
  });

  it("the WebSocket tap counts the agent's broken connection and passes the next one's frames on", async () => {
    const gateway = await Gateway.start({ host: '127.0.97.13', name: 'g' });
    opened.push(gateway);
    let recorded = 0;
    const tap = await WsTap.start({ host: '127.0.97.14', target: gateway.url, record: () => recorded++ });
    opened.push(tap);
    const tapUrl = tap.url;
    expect(await breakProtocol(tapUrl, '/relay')).toBe('closed 1002');
    await waitFor(() => (tap.counters.errors['agent broke the WebSocket protocol'] ?? 0) === 1, 'the tap to count the broken connection');
    const feed = new WebSocket(tapUrl);
    await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
    feed.send(JSON.stringify({ sessionId: 's', stream: 'baseline', seq: 1, ts: 1 }));
    await waitFor(() => recorded === 1 && gateway.framesIn === 1, 'the frame through the tap');
    feed.close();
  });
});
