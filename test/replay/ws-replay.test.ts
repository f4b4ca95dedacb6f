import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { RunSession } from '../../src/run/run-session.ts';
import type { ReplayPlan } from '../../src/replay/replay-plan.ts';
import { sendWsReplay, type WsFrame } from '../../src/replay/ws/ws-replay.ts';
import { withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** A plain WebSocket server (the `ws` library's, not our agent) that keeps every text frame it gets. */
async function receiver(host: string): Promise<{ url: string; frames: string[]; close: () => Promise<void> }> {
  const server = new WebSocketServer({ host, port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const frames: string[] = [];
  server.on('connection', (socket) => socket.on('message', (data) => frames.push(String(data))));
  const { port } = server.address() as { port: number };
  return { url: `ws://${host}:${port}`, frames, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function framesOf(count: number): WsFrame[] {
  return Array.from({ length: count }, (_, i) => {
    const sessionId = `sess_${i % 2}`;
    const stream = 'baseline';
    const seq = Math.floor(i / 2);
    return { tsNs: BigInt(i) * 1_000_000n, sessionId, stream, seq, text: JSON.stringify({ sessionId, stream, seq, speed: i }) };
  });
}

/** A plan at a fixed rate, every frame of every loop. */
function atRate(ratePps: number, loops = 1): ReplayPlan {
  return { pace: { kind: 'rate', ratePps }, loops, durationMs: undefined, sample: 1, seed: 1 };
}

let server: Awaited<ReturnType<typeof receiver>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('a WebSocket replay (its frames sent from a thread of their own)', () => {
  it('sends every frame once, later loops numbered after the first, and records each send with its times', async () => {
    server = await receiver('127.0.86.2');
    const target = server.url;
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'ws.duckdb'), async (store) => {
        const session = await RunSession.create(store, { name: 'ws-loops', kind: 'replay', protocol: 'ws' });
        const plan = atRate(2000, 2);
        const replayed = await sendWsReplay(session, { store, frames: framesOf(400), target, plan });
        await session.finish(replayed.status);
        expect(replayed.status).toBe('completed');
        expect(replayed.stats).toMatchObject({ planned: 800, sent: 800 });
        await waitFor(() => server?.frames.length === 800, 'the server to get every frame');
        const got = (server?.frames ?? []).map((text) => JSON.parse(text) as { sessionId: string; seq: number; speed: number });
        // Loop 2 numbers each session's frames after loop 1's (seqs 0..199 become 200..399), the rest as recorded.
        const keys = new Set(got.map((f) => `${f.sessionId}/${f.seq}`));
        expect(keys.size).toBe(800);
        expect(got.filter((f) => f.seq >= 200).every((f) => f.speed === 2 * (f.seq - 200) + Number(f.sessionId.slice(5)))).toBe(true);
        const [rows] = await store.query(
          `SELECT count(*)::INT AS n, count(DISTINCT send_no)::INT AS sends, min(send_no)::INT AS lo, max(send_no)::INT AS hi,
                  count(DISTINCT session_id || '/' || seq)::INT AS keys, count(*) FILTER (WHERE actual_ns < scheduled_ns)::INT AS early
           FROM ws_sends WHERE run_id = $run_id`,
          { run_id: session.runId },
        );
        expect(rows).toEqual({ n: 800, sends: 800, lo: 0, hi: 799, keys: 800, early: 0 });
      });
    });
  });

  it('an interrupted replay stops sending, says interrupted, and has recorded exactly what it sent', async () => {
    server = await receiver('127.0.86.3');
    const target = server.url;
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'ws.duckdb'), async (store) => {
        const session = await RunSession.create(store, { name: 'ws-stop', kind: 'replay', protocol: 'ws' });
        const plan = atRate(1000);
        const abort = new AbortController();
        // Stopped once frames are flowing: 20 s of frames planned, nowhere near all of them sent.
        const stopping = waitFor(() => (server?.frames.length ?? 0) >= 50, 'the first frames').then(() => abort.abort());
        const replayed = await sendWsReplay(session, { store, frames: framesOf(20_000), target, plan, signal: abort.signal });
        await stopping;
        await session.finish(replayed.status);
        expect(replayed.status).toBe('interrupted');
        expect(replayed.stats.sent).toBeGreaterThanOrEqual(50);
        expect(replayed.stats.sent).toBeLessThan(20_000);
        await waitFor(() => server?.frames.length === replayed.stats.sent, 'the server to get every frame sent');
        const [rows] = await store.query('SELECT count(*)::INT AS n FROM ws_sends WHERE run_id = $run_id', { run_id: session.runId });
        expect(rows?.n).toBe(replayed.stats.sent);
      });
    });
  });

  it('a target that refuses the connection fails the replay with a clear error', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'ws.duckdb'), async (store) => {
        const session = await RunSession.create(store, { name: 'ws-refused', kind: 'replay', protocol: 'ws' });
        const plan = atRate(1000);
        await expect(sendWsReplay(session, { store, frames: framesOf(10), target: 'ws://127.0.86.4:9', plan })).rejects.toThrow(/WebSocket sending thread failed: .*ECONNREFUSED/);
        await session.stopAll();
      });
    });
  });
});
