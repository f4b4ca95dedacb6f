import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend, type SimulatedBackendOptions } from '../../src/backends/simulated-backend.ts';
import { buildCalampMessage, calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { ObservationWriter } from '../../src/store/observation-writer.ts';
import { createRun } from '../../src/store/runs.ts';
import { withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { sendPaced, UdpClient } from '../helpers/udp-client.ts';
import { STAMP_CONVERSION_SLACK_NS, withKernelStamping } from '../helpers/kernel-stamping.ts';
import { sendWhileBlocked } from '../helpers/send-while-blocked.ts';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';
import type { Observation } from '../../src/store/observation-writer.ts';

const taken = (backend: SimulatedBackend) => (): number => backend.counters.received + backend.counters.lost + backend.counters.blackholed;

const opened: (SimulatedBackend | UdpClient)[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0)) await (thing instanceof UdpClient ? thing.close() : thing.stop());
});

async function start(options: Partial<SimulatedBackendOptions> & { ip: string }): Promise<{ backend: SimulatedBackend; client: UdpClient; port: number }> {
  const backend = new SimulatedBackend({ protocol: calampLmd, ports: [0], role: 'primary', ...options });
  await backend.start();
  const client = await UdpClient.open('127.0.0.1');
  opened.push(backend, client);
  return { backend, client, port: backend.ports[0] as number };
}

const messages = (count: number, serviceType = 1): Uint8Array[] =>
  Array.from({ length: count }, (_, i) =>
    buildCalampMessage({ mobileId: `${4_000_000_000 + (i % 97)}`, serviceType, messageType: 2, sequence: i & 0xffff, body: Buffer.from(`report ${i}`) }),
  );

describe('simulated backend over real UDP', () => {
  it.skipIf(process.platform !== 'linux')('counts what the kernel dropped at its socket while it could not read: the harness\'s loss, not a fault it was asked for', async () => {
    const { backend, port } = await start({ ip: '127.0.0.38' });
    expect(backend.receiveDrops()).toBe(0);
    // Another process sends 12 MB while this one (the backend's) is blocked waiting for it: more than its buffer holds.
    const datagrams = 200;
    const blast = `const s = require('node:dgram').createSocket('udp4'); s.bind(0, '127.0.0.39', () => { let n = 0; const next = () => n++ < ${datagrams} ? s.send(Buffer.alloc(60000, n), ${port}, '127.0.0.38', next) : s.close(); next(); });`;
    expect(spawnSync(process.execPath, ['-e', blast], { timeout: 20_000 }).status).toBe(0);
    await waitFor(() => taken(backend)() + (backend.receiveDrops() ?? 0) === datagrams, 'every datagram to be taken or counted as dropped', 10_000);
    expect(backend.receiveDrops()).toBeGreaterThan(0);
    expect(backend.counters.lost).toBe(0);
  });

  it('answers every acknowledged message with the protocol\'s ACK and nothing else', async () => {
    const { client, port, backend } = await start({ ip: '127.0.0.31' });
    await sendPaced(client, [...messages(50), ...messages(10, 0)], { ip: '127.0.0.31', port }, taken(backend));
    expect(await client.waitForReplies(50)).toBe(50);
    // One socket answers in order: a reply to any of the ten unacknowledged messages would come before the barrier's.
    await client.send(messages(1)[0] as Uint8Array, port, '127.0.0.31');
    expect(await client.waitForReplies(51)).toBe(51);
    expect(client.replies).toHaveLength(51);
    for (const reply of client.replies) {
      expect(reply.from).toBe('127.0.0.31');
      expect(calampLmd.decodeAck(reply.payload).kind).toBe('ack');
    }
    expect(backend.counters).toMatchObject({ received: 61, acked: 51, naked: 0 });
  });

  it('loses 1% of 20,000 packets, within 0.35 percentage points (5 standard deviations)', async () => {
    const { client, port, backend } = await start({ ip: '127.0.0.32', faults: { lossRate: 0.01, seed: 7 } });
    const total = 20_000;
    await sendPaced(client, messages(total), { ip: '127.0.0.32', port }, taken(backend));
    await waitFor(() => client.replies.length === backend.counters.acked, 'every answer the backend sent to arrive');
    const lostShare = 1 - client.replies.length / total;
    expect(lostShare).toBeGreaterThan(0.0065);
    expect(lostShare).toBeLessThan(0.0135);
    expect(backend.counters.lost + backend.counters.received).toBe(total);
    expect(backend.counters.lost).toBe(total - client.replies.length);
  });

  it('delays ACKs by the configured latency', async () => {
    const { client, port } = await start({ ip: '127.0.0.33', faults: { latencyMs: 60 } });
    const sentNs = process.hrtime.bigint();
    await client.send(messages(1)[0] as Uint8Array, port, '127.0.0.33');
    await client.waitForReplies(1);
    const delayMs = Number((client.replies[0]?.atNs ?? 0n) - sentNs) / 1e6;
    expect(delayMs).toBeGreaterThanOrEqual(59);
    // An upper bound only to tell a delay from a hang: a busy machine adds to it, never takes from it.
    expect(delayMs).toBeLessThan(5000);
  });

  it('sends NAKs, duplicate ACKs and another app version on demand', async () => {
    const { client, port, backend } = await start({ ip: '127.0.0.34', faults: { nakRate: 0.2, duplicateAckRate: 0.1, ackVersion: [9, 8, 7], seed: 3 } });
    await sendPaced(client, messages(1000), { ip: '127.0.0.34', port }, taken(backend));
    const { counters } = backend;
    await waitFor(() => client.replies.length === counters.acked + counters.naked + counters.duplicateAcks, 'every answer the backend sent to arrive');
    const decoded = client.replies.map((r) => calampLmd.decodeAck(r.payload));
    const naks = decoded.filter((d) => d.kind === 'nak').length;
    expect(backend.counters.naked).toBeGreaterThan(150);
    expect(backend.counters.naked).toBeLessThan(250);
    expect(client.replies.length).toBe(1000 + backend.counters.duplicateAcks);
    expect(naks).toBeGreaterThanOrEqual(backend.counters.naked);
    expect(decoded.every((d) => d.fields.appVersion === '9.8.7')).toBe(true);
  });

  it('becomes a black hole after the set time, and closes its socket when it crashes', async () => {
    const hole = await start({ ip: '127.0.0.35', faults: { blackholeAfterMs: 150 } });
    await hole.client.send(messages(1)[0] as Uint8Array, hole.port, '127.0.0.35');
    expect(await hole.client.waitForReplies(1)).toBe(1);
    await waitFor(async () => {
      await hole.client.send(messages(1)[0] as Uint8Array, hole.port, '127.0.0.35');
      return hole.backend.counters.blackholed > 0;
    }, 'the backend to become a black hole after 150 ms');
    // Everything it took before then was answered; the packet it swallowed was not.
    await waitFor(() => hole.client.replies.length === hole.backend.counters.acked, 'the answers sent before it went dark');
    expect(hole.backend.counters.acked).toBe(hole.backend.counters.received);
    expect(hole.backend.counters.blackholed).toBe(1);

    const crash = await start({ ip: '127.0.0.36', faults: { crashAfterMs: 100 } });
    await waitFor(() => crash.backend.ports.length === 0, 'the backend to crash after 100 ms');
    expect(crash.backend.ports).toEqual([]);
  });

  it('records both of its legs as observations in DuckDB', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'obs.duckdb'), async (store) => {
        const runId = await createRun(store, { name: 'obs', kind: 'record', protocol: 'calamp-lmd' });
        const writer = await ObservationWriter.create(store, runId);
        const { client, port, backend } = await start({ ip: '127.0.0.37', role: 'mirror', sink: writer });
        await sendPaced(client, messages(20), { ip: '127.0.0.37', port }, taken(backend));
        await client.waitForReplies(20);
        await writer.finish();
        const rows = await store.query('SELECT leg, count(*) n, count(payload) with_payload, count(DISTINCT match_key) keys FROM observations GROUP BY leg ORDER BY leg');
        expect(rows).toEqual([
          { leg: 'mirror>relay', n: 20n, with_payload: 20n, keys: 20n },
          { leg: 'relay>mirror', n: 20n, with_payload: 0n, keys: 20n },
        ]);
      });
    });
  });
});

describe.skipIf(loadUdpIo() === undefined)('simulated backend on the C datagram path', () => {
  it('times a request when it arrived (the kernel stamps it), not when its busy thread got to read it', async () => {
    const seen: Observation[] = [];
    const { port } = await start({ ip: '127.0.0.38', sink: { add: (observation) => seen.push(observation) } });
    const { sentNs, unblockedNs } = await withKernelStamping('127.0.0.40', () => sendWhileBlocked(messages(1)[0] as Uint8Array, { ip: '127.0.0.38', port }, '127.0.0.39'));
    await waitFor(() => seen.some((o) => o.leg === 'relay>primary'), 'the request to be recorded');
    const received = seen.find((o) => o.leg === 'relay>primary') as Observation;
    // Arrived about 50 ms into the 500 ms the thread was busy, and timed then, not when read after it.
    expect(received.tsNs).toBeGreaterThanOrEqual(sentNs - BigInt(STAMP_CONVERSION_SLACK_NS));
    expect(received.tsNs).toBeLessThan(unblockedNs);
  });
});
