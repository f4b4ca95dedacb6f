import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { connectionsAtStart, readyConnections } from '../../src/replay/http/ready-connections.js';
import { listenHttp } from '../helpers/http-target.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** A plain HTTP server on `host` answering every request, with every connection it accepted. */
async function target(host: string): Promise<{ url: string; accepted: Socket[]; close(): Promise<void> }> {
  const accepted: Socket[] = [];
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.end('ok'));
  }).on('connection', (socket: Socket) => accepted.push(socket));
  return { ...(await listenHttp(server, host)), accepted };
}

describe("connections opened ahead of an HTTP replay's clock", () => {
  it('are handed to the pool while open; one the target closed is dropped; with none left the pool connects anew', async () => {
    const { url, accepted, close } = await target('127.0.96.7');
    const ready = await readyConnections(url, 3);
    try {
      expect(ready.waiting()).toBe(3);
      await waitFor(() => accepted.length === 3, 'the target to accept the three connections');
      // The target closes two of them before they are used (an idle timeout, a restart).
      accepted[0]?.destroy();
      accepted[1]?.destroy();
      await waitFor(() => ready.waiting() === 1, 'the two closed connections to leave the queue');
      const pool = new Pool(url, { connections: 1, connect: ready.connect });
      for (let i = 0; i < 3; i++) {
        const answer = await pool.request({ path: '/', method: 'GET' });
        expect(answer.statusCode).toBe(200);
        await answer.body.text();
      }
      // Served by the third connection opened ahead: nothing new was accepted.
      expect(accepted.length).toBe(3);
      expect(ready.waiting()).toBe(0);
      const second = new Pool(url, { connections: 1, connect: ready.connect });
      expect((await second.request({ path: '/', method: 'GET' })).statusCode).toBe(200);
      expect(accepted.length).toBe(4);
      await pool.close();
      await second.close();
    } finally {
      ready.release();
      await close();
    }
  });

  it('are as many as the plan sends in its first 100 ms, at least one, at most the connections allowed', () => {
    const ms = (...values: number[]): Float64Array => Float64Array.from(values.map((v) => v * 1e6));
    expect(connectionsAtStart(ms(0, 50, 99, 150), 64)).toBe(3);
    expect(connectionsAtStart(ms(0, 50, 99, 150), 2)).toBe(2);
    expect(connectionsAtStart(ms(500, 600), 64)).toBe(1);
    expect(connectionsAtStart(ms(), 64)).toBe(1);
  });
});
