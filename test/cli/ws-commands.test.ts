import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { killAllParity, runParity, spawnParity, type ParityProcess } from '../helpers/run-parity.ts';

afterEach(killAllParity);

async function listening(process: ParityProcess, word: string): Promise<void> {
  expect(await process.waitForOutput((_out, err) => err.includes(word)), process.stderr()).toBe(true);
}

describe('parity relay-agent and parity gateway, as processes', () => {
  it('the agent, configured by RELAY_* variables, fans frames from its ingest out to both gateways', async () => {
    const a = spawnParity(['gateway', '--listen', '127.0.85.2:18085', '--name', 'gateway-a', '--json']);
    const b = spawnParity(['gateway', '--listen', '127.0.85.3:18085', '--name', 'gateway-b', '--json']);
    for (const g of [a, b]) await listening(g, 'listening');
    const agent = spawnParity(['relay-agent', '--json'], {
      env: { RELAY_BACKENDS: 'ws://127.0.85.2:18085/relay,ws://127.0.85.3:18085/relay', RELAY_BACKEND_MODE: 'parallel', RELAY_DEBUG_PORT: '18185', RELAY_INGEST_PORT: '18186', RELAY_PARITY_SAMPLE_RATE: '0.1' },
    });
    await listening(agent, 'ingest ws://127.0.0.1:18186');
    const feed = new WebSocket('ws://127.0.0.1:18186');
    await new Promise((resolve, reject) => feed.once('open', resolve).once('error', reject));
    // The agent connects to the gateways as it starts: frames wait in its queues until then.
    for (let seq = 0; seq < 200; seq++) feed.send(JSON.stringify({ sessionId: 'sess_9', stream: 'baseline', seq, ts: 1_735_635_285_000 + seq }));
    feed.close();
    const parity = async (): Promise<{ totalSent: number; totalAcked: number }> => (await (await fetch('http://127.0.0.1:18185/debug/parity')).json()) as { totalSent: number; totalAcked: number };
    for (let tries = 0; tries < 200 && (await parity()).totalAcked < 40; tries++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(await agent.stop()).toBe(0);
    expect(JSON.parse(agent.stdout())).toMatchObject({ parity: { totalSent: 400, totalAcked: 40, totalFailed: 0, totalDropped: 0 } });
    for (const [gateway, name] of [[a, 'gateway-a'], [b, 'gateway-b']] as const) {
      expect(await gateway.stop()).toBe(0);
      expect(JSON.parse(gateway.stdout())).toMatchObject({ name, framesIn: 200, sessions: { sess_9: { streams: { baseline: { framesIn: 200, acked: 20 } }, duplicates: 0, outOfOrder: 0 } } });
    }
  });

  it('a bad RELAY_* variable is one line naming it, exit 2', async () => {
    const run = await runParity(['relay-agent'], { env: { RELAY_BACKENDS: 'ws://127.0.0.1:1/relay', RELAY_KILL_SWITCH: 'yes' } });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("parity: RELAY_KILL_SWITCH=\"yes\": takes '0' or '1'");
  });
});
