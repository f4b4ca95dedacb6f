import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Gateway, type GatewayFaults } from '../../src/backends/ws/gateway.ts';
import { SeenSequence } from '../../src/backends/ws/seen-sequence.ts';
import { readAgentConfig } from '../../src/relay/ws/agent-config.ts';
import { RelayAgent } from '../../src/relay/ws/relay-agent.ts';
import { waitFor } from '../helpers/wait-for.ts';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

async function topology(env: Record<string, string>, faults: { a?: GatewayFaults; b?: GatewayFaults } = {}): Promise<{ agent: RelayAgent; a: Gateway; b: Gateway; feed: WebSocket }> {
  const a = await Gateway.start({ host: '127.0.86.2', name: 'a', ...(faults.a !== undefined && { faults: faults.a }) });
  const b = await Gateway.start({ host: '127.0.86.3', name: 'b', ...(faults.b !== undefined && { faults: faults.b }) });
  opened.push(a, b);
  const agent = await RelayAgent.start(readAgentConfig({ RELAY_BACKENDS: `${a.url},${b.url}`, RELAY_DEBUG_PORT: '0', RELAY_INGEST_PORT: '0', ...env }));
  opened.push(agent);
  const feed = new WebSocket(`ws://127.0.0.1:${agent.ingestPort}`);
  await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
  opened.push({ close: async () => feed.close() });
  return { agent, a, b, feed };
}

function send(feed: WebSocket, from: number, count: number): void {
  for (let seq = from; seq < from + count; seq++) feed.send(JSON.stringify({ sessionId: 'sess_1', stream: 'baseline', seq, ts: 1_735_635_285_000 + seq, speed: 42 }));
}

async function json(url: string): Promise<Record<string, unknown>> {
  const answer = await request(url);
  return (await answer.body.json()) as Record<string, unknown>;
}

const debug = (agent: RelayAgent, path: string): Promise<Record<string, unknown>> => json(`http://127.0.0.1:${agent.debugPort}${path}`);

describe('the reference relay agent (WebSocket fan-out to gateways)', () => {
  it('parallel mode: every frame to both gateways, the same sampled frames acked by both, the spec\'s debug JSON field for field', async () => {
    const { agent, a, b, feed } = await topology({ RELAY_BACKEND_MODE: 'parallel', RELAY_PARITY_SAMPLE_RATE: '0.05' });
    await waitFor(() => agent.targets.every((t) => t.state === 'connected'), 'both targets to connect');
    send(feed, 0, 1000);
    await waitFor(() => a.framesIn === 1000 && b.framesIn === 1000, 'both gateways to take every frame');
    await waitFor(() => agent.targets.every((t) => t.counters.acked === 50), 'the 5% sampled frames to be acked');
    const parity = await debug(agent, '/debug/parity');
    expect(Object.keys(parity).sort()).toEqual(['ackLatency', 'perTarget', 'totalAcked', 'totalDropped', 'totalFailed', 'totalSent']);
    expect(parity).toMatchObject({ totalSent: 2000, totalAcked: 100, totalFailed: 0, totalDropped: 0, perTarget: [{ url: a.url, sent: 1000, acked: 50 }, { url: b.url, sent: 1000, acked: 50 }] });
    expect(Object.keys(parity.ackLatency as object).sort()).toEqual(['p50', 'p95', 'samples']);
    const targets = await debug(agent, '/debug/targets');
    expect(targets).toMatchObject({ mode: 'parallel', primaryIndex: 0, killSwitch: false });
    const [first] = targets.targets as Record<string, unknown>[];
    expect(Object.keys(first ?? {}).sort()).toEqual(['counters', 'enabled', 'lastAckLatencyMs', 'lastError', 'lastSendOkMs', 'queueSize', 'state', 'url']);
    expect(first).toMatchObject({ url: a.url, enabled: true, state: 'connected', counters: { sent: 1000, failed: 0, acked: 50, dropped: 0 }, queueSize: 0, lastError: null });
    expect(await debug(agent, '/debug/health')).toEqual({ status: 'healthy', killSwitch: false, mode: 'parallel', version: '1.0.0' });
    // The gateways' own diagnostics say the same, per stream.
    const diagnostics = await json(`${a.httpUrl}/api/dev/diagnostics/parity?sessionId=sess_1`);
    expect(diagnostics).toEqual({ sessionId: 'sess_1', streams: { baseline: { framesIn: 1000, acked: 50, lastFrameTs: 1_735_635_285_999 } }, duplicates: 0, outOfOrder: 0, lastError: null });
    expect(Object.keys(await json(`${b.httpUrl}/api/dev/diagnostics/build`)).sort()).toEqual(['buildTime', 'environment', 'gitSha', 'version']);
  });

  it('gateway B refusing the upgrade never slows or stops gateway A; health says degraded', async () => {
    const { agent, a, feed } = await topology({ RELAY_BACKEND_MODE: 'parallel' }, { b: { refuseUpgrade: true } });
    await waitFor(() => agent.targets[0]?.state === 'connected', 'target A to connect');
    send(feed, 0, 500);
    await waitFor(() => a.framesIn === 500, 'A to take every frame');
    const [, targetB] = (await debug(agent, '/debug/targets')).targets as Record<string, unknown>[];
    expect(targetB?.state).not.toBe('connected');
    expect(String(targetB?.lastError)).toMatch(/403/);
    expect((await debug(agent, '/debug/health')).status).toBe('degraded');
  });

  it('the kill switch: nothing reaches any gateway while on; lifted, sending resumes by itself', async () => {
    const { agent, a, b, feed } = await topology({ RELAY_BACKEND_MODE: 'parallel' });
    await waitFor(() => agent.targets.every((t) => t.state === 'connected'), 'both targets to connect');
    send(feed, 0, 100);
    await waitFor(() => a.framesIn === 100 && b.framesIn === 100, 'the first frames');
    agent.reconfigure({ killSwitch: true });
    send(feed, 100, 100);
    await waitFor(() => agent.framesIn === 200, 'the agent to take the frames sent under the kill switch');
    expect(await debug(agent, '/debug/health')).toMatchObject({ status: 'kill_switch', killSwitch: true });
    agent.reconfigure({ killSwitch: false });
    await waitFor(() => agent.targets.every((t) => t.state === 'connected'), 'both targets to reconnect by themselves');
    send(feed, 200, 100);
    await waitFor(() => a.framesIn === 200 && b.framesIn === 200, 'sending to resume');
    // None of the 100 frames sent under the kill switch reached a gateway.
    const seen = a.sessions.get('sess_1')?.streams.get('baseline')?.seen ?? new SeenSequence();
    expect(seen.has(99) && seen.has(200)).toBe(true);
    expect(Array.from({ length: 100 }, (_, i) => 100 + i).filter((seq) => seen.has(seq))).toEqual([]);
  });

  it('single mode sends to the primary alone; a disabled target gets nothing', async () => {
    const { agent, a, b, feed } = await topology({ RELAY_BACKEND_MODE: 'single', RELAY_PRIMARY_INDEX: '1' });
    await waitFor(() => agent.targets[1]?.state === 'connected', 'the primary to connect');
    send(feed, 0, 50);
    await waitFor(() => b.framesIn === 50, 'the primary to take every frame');
    expect(a.framesIn).toBe(0);
    agent.reconfigure({ mode: 'parallel', targetsEnabled: [false, true] });
    send(feed, 50, 50);
    await waitFor(() => b.framesIn === 100, 'B to take the next frames');
    expect(a.framesIn).toBe(0);
  });

  it('a bad variable is one error naming it and what it takes', () => {
    expect(() => readAgentConfig({ RELAY_BACKENDS: 'ws://127.0.0.1:1/relay', RELAY_BACKEND_MODE: 'dual' })).toThrow("RELAY_BACKEND_MODE=\"dual\": takes 'single' or 'parallel'");
    expect(() => readAgentConfig({ RELAY_BACKENDS: 'http://x/relay' })).toThrow('RELAY_BACKENDS="http://x/relay": takes ws:// or wss:// URLs');
    expect(() => readAgentConfig({ RELAY_BACKENDS: 'ws://a/r,ws://b/r', RELAY_PRIMARY_INDEX: '2' })).toThrow('RELAY_PRIMARY_INDEX="2": takes a whole number from 0 to 1');
    expect(readAgentConfig({ RELAY_BACKENDS: 'ws://a/r' })).toMatchObject({ mode: 'single', primaryIndex: 0, targetTimeoutMs: 1500, sendTimeoutMs: 250, killSwitch: false, targetsEnabled: [true], paritySampleRate: 0.05, debugPort: 8765 });
  });
});
