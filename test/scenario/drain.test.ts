import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplyPairing } from '../../src/capture/record/reply-pairing.ts';
import { UdpTap } from '../../src/observe/udp-tap.ts';
import { defaultDrainMs, drainBackends } from '../../src/scenario/drain.ts';
import { UdpClient } from '../helpers/udp-client.ts';

/** A backend that answers each datagram with the same bytes `latencyMs` later, as a slow external backend would. */
async function slowEchoBackend(ip: string, latencyMs: number): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (payload, remote) => {
    setTimeout(() => socket.send(payload, remote.port, remote.address), latencyMs);
  });
  await new Promise<void>((resolve) => socket.bind(0, ip, resolve));
  return { socket, port: socket.address().port };
}

const opened: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

describe('the drain of a run with a tapped external backend (real sockets)', () => {
  it('waits for every answer owed by a backend slower than the interval between requests, not a guess from the last forward', async () => {
    const latencyMs = 800;
    const backend = await slowEchoBackend('127.0.31.62', latencyMs);
    opened.push(backend.socket);
    const pairing = new ReplyPairing();
    // The payload is the match key here: every request wants its answer.
    const tap = new UdpTap({ ip: '127.0.31.61', port: 0 }, { ip: '127.0.31.62', port: backend.port }, (packet) => {
      const key = packet.payload.toString();
      if (packet.direction === 'uplink') pairing.request(packet.src, key, 0, packet.monoNs, true);
      else pairing.reply(packet.dst, key, packet.monoNs);
    });
    await tap.start();
    opened.push({ close: () => tap.stop() });
    const relay = await UdpClient.open('127.0.31.60');
    opened.push(relay);

    // Ten requests 40 ms apart, each answered 800 ms later: twenty in flight at a time would be the same. When the last
    // one leaves, none has been answered; the tap's own time since its last forward says nothing of the answer time.
    const requests = 10;
    for (let i = 0; i < requests; i++) {
      await relay.send(Buffer.from(`req-${i}`), tap.listen.port, '127.0.31.61');
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    const taps = [{ tap, pairing }];
    const startedMs = Date.now();
    await drainBackends({ backends: [], taps, drainMs: defaultDrainMs(5000, [], taps) });

    // Every answer reached the tap before the drain let it stop: none would read as one-sided.
    expect(tap.counters.replies).toBe(requests);
    expect(pairing.owedAnswers).toBe(0);
    expect(pairing.slowestAnswerMs).toBeGreaterThanOrEqual(latencyMs - 5);
    // And no longer than it had to: the drain ends once the answers are in and the tap is quiet, not at its deadline.
    expect(Date.now() - startedMs).toBeLessThan(4000);
  });

  it('goes on waiting while owed answers still come, each later than the drain time after the one before', async () => {
    // Request i is answered 300 ms after request i - 1's answer: the last one 3 s after the first request, far past a
    // drain time of 500 ms, but never 500 ms without an answer.
    const socket = dgram.createSocket('udp4');
    let received = 0;
    socket.on('message', (payload, remote) => {
      received++;
      setTimeout(() => socket.send(payload, remote.port, remote.address), 300 * received);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.31.66', resolve));
    opened.push(socket);
    const pairing = new ReplyPairing();
    const tap = new UdpTap({ ip: '127.0.31.65', port: 0 }, { ip: '127.0.31.66', port: socket.address().port }, (packet) => {
      const key = packet.payload.toString();
      if (packet.direction === 'uplink') pairing.request(packet.src, key, 0, packet.monoNs, true);
      else pairing.reply(packet.dst, key, packet.monoNs);
    });
    await tap.start();
    opened.push({ close: () => tap.stop() });
    const relay = await UdpClient.open('127.0.31.60');
    opened.push(relay);
    const requests = 10;
    for (let i = 0; i < requests; i++) await relay.send(Buffer.from(`req-${i}`), tap.listen.port, '127.0.31.65');
    while (tap.counters.forwarded < requests) await new Promise((resolve) => setTimeout(resolve, 5));

    await drainBackends({ backends: [], taps: [{ tap, pairing }], drainMs: 500 });
    expect(tap.counters.replies).toBe(requests);
    expect(pairing.owedAnswers).toBe(0);
  });

  it('waits no longer than its deadline for answers a backend never sends', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.31.64', resolve));
    opened.push(silent);
    const pairing = new ReplyPairing();
    const tap = new UdpTap({ ip: '127.0.31.63', port: 0 }, { ip: '127.0.31.64', port: silent.address().port }, (packet) => {
      if (packet.direction === 'uplink') pairing.request(packet.src, packet.payload.toString(), 0, packet.monoNs, true);
    });
    await tap.start();
    opened.push({ close: () => tap.stop() });
    const relay = await UdpClient.open('127.0.31.60');
    opened.push(relay);
    await relay.send(Buffer.from('req-0'), tap.listen.port, '127.0.31.63');
    while (tap.counters.forwarded < 1) await new Promise((resolve) => setTimeout(resolve, 5));

    const startedMs = Date.now();
    await drainBackends({ backends: [], taps: [{ tap, pairing }], drainMs: 500 });
    const waitedMs = Date.now() - startedMs;
    expect(pairing.owedAnswers).toBe(1);
    expect(waitedMs).toBeGreaterThanOrEqual(490);
    expect(waitedMs).toBeLessThan(3000);
  });
});
