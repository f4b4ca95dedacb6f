import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ShadowProxy } from '../../src/relay/http/shadow-proxy.ts';
import { killAllParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

afterEach(killAllParity);

const HOST = '127.0.88.1';

interface Snapshot {
  type: string;
  config: Record<string, unknown> & { version: string };
}

/** A data plane written for this test from the spec alone: keeps each snapshot and acks it. */
async function dataPlane(url: string): Promise<{ got: Snapshot[]; close: () => void }> {
  const got: Snapshot[] = [];
  const socket = new WebSocket(`${url}?dp=test-dp`);
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as Snapshot;
    got.push(message);
    socket.send(JSON.stringify({ type: 'ack', version: message.config.version }));
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return { got, close: () => socket.terminate() };
}

describe('parity control-plane', () => {
  it('serves its file as snapshots, publishes each change (a new version when the file keeps its own), and refuses an invalid file with one line', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'agent.json');
      const settings = { version: '7', mode: 'parallel', primaryIndex: 0, targetsEnabled: [true, true], killSwitch: false, paritySampleRate: 0.05 };
      writeFileSync(file, JSON.stringify(settings));
      const plane = spawnParity(['control-plane', '--config', file, '--listen', `${HOST}:18881`, '--duration', '30s']);
      expect(await plane.waitForOutput((_out, err) => err.includes('control plane listening'), 15_000), plane.stderr()).toBe(true);
      const dp = await dataPlane(`ws://${HOST}:18881/connect`);
      try {
        await waitFor(() => dp.got.length === 1, 'the snapshot on connect');
        expect(dp.got[0]).toEqual({ type: 'config_snapshot', config: settings });
        writeFileSync(file, JSON.stringify({ ...settings, mode: 'single', primaryIndex: 1 }));
        await waitFor(() => dp.got.length === 2, 'the change');
        expect(dp.got[1]?.config).toEqual({ ...settings, mode: 'single', primaryIndex: 1, version: '8' });
        writeFileSync(file, JSON.stringify({ ...settings, version: '9', mode: 'sideways' }));
        expect(await plane.waitForOutput((_out, err) => err.includes("mode: must be 'single' or 'parallel'; not published"), 10_000), plane.stderr()).toBe(true);
        expect(dp.got.length).toBe(2);
        const health = (await (await request(`http://${HOST}:18881/health`)).body.json()) as Record<string, unknown>;
        expect(health).toEqual({ status: 'ok', version: '8', dataPlanes: [{ name: 'test-dp', connected: true, version: '8' }] });
      } finally {
        dp.close();
        await plane.stop('SIGINT');
      }
    });
  }, 60_000);
});

describe('the shadowing proxy configured by a control plane', () => {
  it('routes live and shadow as each snapshot says, swapping without failing a request; an invalid routing is not published and the proxy keeps its own', async () => {
    const hits: Record<string, number> = { a: 0, b: 0, c: 0 };
    const servers: Server[] = [];
    const upstream = (name: string, port: number): Promise<string> =>
      new Promise((resolve) => {
        const server = createServer((req, res) => {
          hits[name] = (hits[name] ?? 0) + 1;
          req.resume();
          req.on('end', () => res.end(name));
        });
        servers.push(server);
        server.listen(port, '127.0.88.2', () => resolve(`http://127.0.88.2:${port}`));
      });
    const [a, b, c] = [await upstream('a', 18_891), await upstream('b', 18_892), await upstream('c', 18_893)];
    await withTempDir(async (dir) => {
      const file = join(dir, 'routing.json');
      writeFileSync(file, JSON.stringify({ version: '1', live: a, shadow: b }));
      const plane = spawnParity(['control-plane', '--config', file, '--for', 'shadow-proxy', '--listen', `${HOST}:18882`, '--duration', '30s']);
      expect(await plane.waitForOutput((_out, err) => err.includes('control plane listening'), 15_000), plane.stderr()).toBe(true);
      const proxy = await ShadowProxy.start({ host: '127.0.88.3', live: c, shadow: null, controlPlaneUrl: `ws://${HOST}:18882/connect` });
      try {
        await waitFor(() => proxy.control?.version === '1', 'the first snapshot');
        const ask = async (): Promise<string> => (await (await request(`${proxy.url}/x`, { method: 'POST', body: 'hello' })).body.text());
        const answers: string[] = [];
        for (let i = 0; i < 20; i++) answers.push(await ask());
        // B becomes live, C the shadow, while requests keep coming: each is answered, by the live of its moment.
        writeFileSync(file, JSON.stringify({ version: '2', live: b, shadow: c }));
        const deadline = Date.now() + 10_000;
        while (proxy.control?.version !== '2' && Date.now() < deadline) answers.push(await ask());
        for (let i = 0; i < 20; i++) answers.push(await ask());
        expect(proxy.control?.version).toBe('2');
        expect(answers.slice(0, 20).every((answer) => answer === 'a')).toBe(true);
        expect(answers.slice(-20).every((answer) => answer === 'b')).toBe(true);
        expect(answers.every((answer) => answer === 'a' || answer === 'b')).toBe(true);
        await waitFor(() => (hits.c ?? 0) >= 20, 'C to get the shadow copies');
        expect(hits.b ?? 0).toBeGreaterThanOrEqual(40);
        const config = (await (await request(`${proxy.url}/debug/config-version`)).body.json()) as Record<string, unknown>;
        expect(config).toMatchObject({ version: '2', source: 'control_plane', lastError: null });
        writeFileSync(file, JSON.stringify({ version: '3', live: 'ftp://127.0.88.2/', shadow: null }));
        expect(await plane.waitForOutput((_out, err) => err.includes('live: must be an http:// or https:// URL; not published'), 10_000), plane.stderr()).toBe(true);
        expect(await ask()).toBe('b');
        expect(proxy.control?.version).toBe('2');
      } finally {
        await proxy.close();
        await plane.stop('SIGINT');
        for (const server of servers) server.close();
      }
    });
  }, 60_000);
});
