import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { Gateway } from '../../src/backends/ws/gateway.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { ControlPlaneClient } from '../../src/relay/control/control-client.ts';
import { ControlPlane } from '../../src/relay/control/control-plane.ts';
import { readAgentConfig } from '../../src/relay/ws/agent-config.ts';
import { validateAgentSnapshot } from '../../src/relay/ws/agent-snapshot.ts';
import { RelayAgent } from '../../src/relay/ws/relay-agent.ts';
import { listenTcp } from '../helpers/tcp-peer.ts';
import { waitFor } from '../helpers/wait-for.ts';

const opened: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

const CP_HOST = '127.0.87.1';

/**
 * A control plane written for this test from the spec's protocol alone: on /connect it sends the latest full snapshot
 * and records every answer.
 */
class SpecControlPlane {
  readonly answers: Record<string, unknown>[] = [];
  private server: WebSocketServer | undefined;
  latest: Record<string, unknown> | undefined;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const server = new WebSocketServer({ host: CP_HOST, port: this.port, path: '/connect' });
    await new Promise((resolve) => server.once('listening', resolve));
    server.on('connection', (socket) => {
      socket.on('message', (data) => this.answers.push(JSON.parse(data.toString()) as Record<string, unknown>));
      if (this.latest !== undefined) socket.send(JSON.stringify({ type: 'config_snapshot', config: this.latest }));
    });
    this.server = server;
  }

  push(config: Record<string, unknown>): void {
    this.latest = config;
    for (const client of this.server?.clients ?? []) client.send(JSON.stringify({ type: 'config_snapshot', config }));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const client of server?.clients ?? []) client.terminate();
    await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  }

  close(): Promise<void> {
    return this.stop();
  }
}

async function json(url: string): Promise<Record<string, unknown>> {
  return (await (await request(url)).body.json()) as Record<string, unknown>;
}

async function agentWithGateways(controlPlaneUrl: string): Promise<{ agent: RelayAgent; a: Gateway; b: Gateway; feed: WebSocket }> {
  const a = await Gateway.start({ host: '127.0.87.2', name: 'a' });
  const b = await Gateway.start({ host: '127.0.87.3', name: 'b' });
  opened.push(a, b);
  const agent = await RelayAgent.start(readAgentConfig({ RELAY_BACKENDS: `${a.url},${b.url}`, RELAY_BACKEND_MODE: 'parallel', RELAY_DEBUG_PORT: '0', RELAY_INGEST_PORT: '0', CONTROL_PLANE_URL: controlPlaneUrl, RELAY_AGENT_NAME: 'agent-7' }));
  opened.push(agent);
  const feed = new WebSocket(`ws://127.0.0.1:${agent.ingestPort}`);
  await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
  opened.push({ close: () => feed.close() });
  return { agent, a, b, feed };
}

const snapshot = (version: string, change: Record<string, unknown> = {}): Record<string, unknown> => ({ version, mode: 'parallel', primaryIndex: 0, targetsEnabled: [true, true], killSwitch: false, paritySampleRate: 0.05, ...change });

function send(feed: WebSocket, from: number, count: number): void {
  for (let seq = from; seq < from + count; seq++) feed.send(JSON.stringify({ sessionId: 's', stream: 'baseline', seq }));
}

describe('the relay agent configured by a control plane (control-plane spec)', () => {
  it('applies each snapshot and acks it; refuses an invalid one with a nack naming the field, keeping its last-known-good; frames flow throughout', async () => {
    const cp = new SpecControlPlane(18_871);
    opened.push(cp);
    cp.latest = snapshot('1');
    await cp.start();
    const { agent, a, b, feed } = await agentWithGateways(`ws://${CP_HOST}:18871/connect`);
    await waitFor(() => cp.answers.length === 1, 'the agent to answer the snapshot it got on connecting');
    expect(cp.answers).toEqual([{ type: 'ack', version: '1' }]);
    const debug = (path: string): Promise<Record<string, unknown>> => json(`http://127.0.0.1:${agent.debugPort}${path}`);
    expect(await debug('/debug/config-version')).toMatchObject({ version: '1', source: 'control_plane', lastError: null, controlPlane: { connected: true } });

    send(feed, 0, 100);
    await waitFor(() => a.framesIn === 100 && b.framesIn === 100, 'both gateways to take the first frames');
    cp.push(snapshot('2', { mode: 'single', primaryIndex: 1 }));
    await waitFor(() => cp.answers.length === 2, 'the ack of v2');
    send(feed, 100, 100);
    cp.push(snapshot('3', { mode: 'single', primaryIndex: 5 }));
    cp.push({ ...snapshot('4', { mode: 'parallel' }), retries: 3 });
    await waitFor(() => cp.answers.length === 4, 'the answers to v3 and v4');
    send(feed, 200, 100);
    expect(cp.answers.slice(1)).toEqual([
      { type: 'ack', version: '2' },
      { type: 'nack', version: '3', error: 'primaryIndex: must be the index of a backend, 0 to 1' },
      { type: 'nack', version: '4', error: 'retries: is not a setting of the relay agent (version, mode, primaryIndex, targetsEnabled, killSwitch, paritySampleRate, backends)' },
    ]);
    // Last-known-good: v2 (single, primary B) stays in force.
    expect(await debug('/debug/targets')).toMatchObject({ mode: 'single', primaryIndex: 1 });
    expect(await debug('/debug/config-version')).toMatchObject({ version: '2', source: 'control_plane', lastError: 'version 4: retries: is not a setting of the relay agent (version, mode, primaryIndex, targetsEnabled, killSwitch, paritySampleRate, backends)' });
    await waitFor(() => b.framesIn === 300, 'B to take every frame');
    expect(a.framesIn).toBe(100);
  });

  it('rides through the control plane\'s outage on what it has, reconnects with backoff, and takes the snapshot it missed', async () => {
    const cp = new SpecControlPlane(18_872);
    opened.push(cp);
    cp.latest = snapshot('1');
    await cp.start();
    const { agent, a, b, feed } = await agentWithGateways(`ws://${CP_HOST}:18872/connect`);
    await waitFor(() => agent.control?.version === '1', 'v1');
    await cp.stop();
    await waitFor(() => agent.control?.connected === false, 'the agent to see the control plane gone');
    const view = agent.control?.view();
    // The first retry is a second away at most (the spec's 1 s), then 2 s, 4 s...
    expect(view?.controlPlane.nextRetryMs).toBeLessThanOrEqual(1000);
    send(feed, 0, 200);
    await waitFor(() => a.framesIn === 200 && b.framesIn === 200, 'both gateways to take every frame during the outage');
    cp.latest = snapshot('2', { killSwitch: true });
    await cp.start();
    await waitFor(() => agent.control?.version === '2', 'the agent to reconnect and take v2', 10_000);
    expect(agent.settings.killSwitch).toBe(true);
    expect(agent.control?.reconnects).toBeGreaterThanOrEqual(1);
    // The ack travels back after the swap: waited for, not assumed there.
    await waitFor(() => cp.answers.some((a) => a.type === 'ack' && a.version === '2'), 'the ack of v2');
    // A connection that opened starts the schedule over: the next outage is retried within a second again.
    await cp.stop();
    await waitFor(() => agent.control?.connected === false, 'the second outage');
    expect(agent.control?.view().controlPlane.nextRetryMs).toBeLessThanOrEqual(1000);
  });

  it('backs off 1x, 2x, 4x... up to its cap between attempts', async () => {
    const attempts: number[] = [];
    // Accepts each TCP connection and closes it at once: every attempt fails, and is timed here.
    const refusing = await listenTcp(
      CP_HOST,
      (socket) => {
        attempts.push(performance.now());
        socket.destroy();
      },
      18_873,
    );
    opened.push(refusing);
    const client = new ControlPlaneClient({ url: `ws://${CP_HOST}:18873/connect`, name: 'dp', bootstrapVersion: '0', validate: (c) => c, apply: () => undefined, backoff: { initialMs: 50, maxMs: 400 } });
    opened.push({ close: () => client.stop() });
    client.start();
    await waitFor(() => attempts.length >= 7, 'seven attempts', 10_000);
    const gaps = attempts.slice(1, 7).map((t, i) => t - (attempts[i] as number));
    // Each wait at least the schedule's (timers never fire early); a loaded machine may add to it.
    for (const [i, wanted] of [50, 100, 200, 400, 400, 400].entries()) expect(gaps[i], `gap ${i + 1}: ${gaps.map(Math.round).join(', ')} ms`).toBeGreaterThanOrEqual(wanted - 5);
    expect(gaps[3] as number).toBeGreaterThan((gaps[0] as number) * 2);
  });

  it('gives up an attempt that a control plane takes and never answers, and tries again', async () => {
    // Takes each connection and says nothing: the upgrade is never answered.
    const silent = await listenTcp(CP_HOST, undefined, 18_874);
    opened.push(silent);
    const attempts = silent.sockets;
    const client = new ControlPlaneClient({ url: `ws://${CP_HOST}:18874/connect`, name: 'dp', bootstrapVersion: '0', validate: (c) => c, apply: () => undefined, backoff: { initialMs: 50, maxMs: 100 }, handshakeTimeoutMs: 200 });
    opened.push({ close: () => client.stop() });
    client.start();
    await waitFor(() => attempts.length >= 3, 'three attempts', 10_000);
    expect(client.view()).toMatchObject({ version: '0', source: 'bootstrap', controlPlane: { connected: false } });
    expect(client.reconnects).toBeGreaterThanOrEqual(2);
  });
});

describe('the project\'s control plane', () => {
  it('sends the latest snapshot on connect, validates before sending, reports versions at /health, and can be stopped and started on its port', async () => {
    const plane = await ControlPlane.start({ host: CP_HOST, validate: (config) => validateAgentSnapshot(config) });
    opened.push(plane);
    plane.publish(snapshot('1') as { version: string });
    // A data plane written for this test: acks whatever it gets.
    const dp = new WebSocket(`${plane.url}?dp=edge-1`);
    const got: Record<string, unknown>[] = [];
    dp.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; config: { version: string } };
      got.push(message);
      dp.send(JSON.stringify({ type: 'ack', version: message.config.version }));
    });
    opened.push({ close: () => dp.terminate() });
    await waitFor(() => got.length === 1, 'the snapshot on connect');
    expect(got[0]).toEqual({ type: 'config_snapshot', config: snapshot('1') });
    // The ack of v1 is in before anything else is published: on a loaded machine it came after the next publication,
    // and the order of events below is the control plane's, not the scheduler's.
    await waitFor(() => plane.events.some((e) => e.event === 'ack' && e.version === '1'), 'the ack of v1');
    expect(() => plane.publish(snapshot('2', { mode: 'both' }) as { version: string })).toThrow(ConfigError);
    plane.publish(snapshot('3', { killSwitch: true }) as { version: string });
    await waitFor(() => got.length === 2, 'v3');
    expect((got[1] as { config: { version: string } }).config.version).toBe('3');
    await waitFor(() => plane.events.some((e) => e.event === 'ack' && e.version === '3'), 'the ack of v3');
    const port = new URL(plane.url).port;
    expect(await json(`http://${CP_HOST}:${port}/health`)).toEqual({ status: 'ok', version: '3', dataPlanes: [{ name: 'edge-1', connected: true, version: '3' }] });
    expect(plane.events.map((e) => e.event)).toEqual(['published', 'connected', 'sent', 'ack', 'refused', 'published', 'sent', 'ack']);
    const closed = new Promise((resolve) => dp.once('close', resolve));
    await plane.stop();
    await closed;
    await plane.restart();
    expect(new URL(plane.url).port).toBe(port);
    expect((await json(`http://${CP_HOST}:${port}/health`)).version).toBe('3');
  });
});
