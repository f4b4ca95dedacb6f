import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ReplyPairing } from '../../src/capture/record/reply-pairing.ts';
import { UdpTap } from '../../src/observe/udp-tap.ts';
import { defaultDrainMs, drainBackends } from '../../src/scenario/drain.ts';
import { UdpClient } from '../helpers/udp-client.ts';

const opened: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

/**
 * A backend behind a recording tap, and a relay socket in front: the backend answers its n-th datagram (from 1) with
 * the same bytes `answerAfterMs(n)` later, or never where that is undefined. The payload is the match key here: every
 * request wants its answer.
 */
async function tappedBackend(block: number, answerAfterMs: (n: number) => number | undefined): Promise<{ tap: UdpTap; pairing: ReplyPairing; send: (requests: number, gapMs: number) => Promise<void> }> {
  const backend = dgram.createSocket('udp4');
  let received = 0;
  backend.on('message', (payload, remote) => {
    const delayMs = answerAfterMs(++received);
    if (delayMs !== undefined) setTimeout(() => backend.send(payload, remote.port, remote.address), delayMs);
  });
  await new Promise<void>((resolve) => backend.bind(0, `127.0.${block}.2`, resolve));
  opened.push(backend);
  const pairing = new ReplyPairing();
  const tap = new UdpTap({ ip: `127.0.${block}.1`, port: 0 }, { ip: `127.0.${block}.2`, port: backend.address().port }, (packet) => {
    const key = packet.payload.toString();
    if (packet.direction === 'uplink') pairing.request(packet.src, key, 0, packet.monoNs, true);
    else pairing.reply(packet.dst, key, packet.monoNs);
  });
  await tap.start();
  opened.push({ close: () => tap.stop() });
  const relay = await UdpClient.open(`127.0.${block}.3`);
  opened.push(relay);
  const send = async (requests: number, gapMs: number): Promise<void> => {
    for (let i = 0; i < requests; i++) {
      await relay.send(Buffer.from(`req-${i}`), tap.listen.port, `127.0.${block}.1`);
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    while (tap.counters.forwarded < requests) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  return { tap, pairing, send };
}

describe('the drain of a run with a tapped external backend (real sockets)', () => {
  it('waits for every answer owed by a backend slower than the interval between requests, not a guess from the last forward', async () => {
    const latencyMs = 800;
    const { tap, pairing, send } = await tappedBackend(61, () => latencyMs);
    // Ten requests 40 ms apart, each answered 800 ms later: twenty in flight at a time would be the same. When the last
    // one leaves, none has been answered; the tap's own time since its last forward says nothing of the answer time.
    const requests = 10;
    await send(requests, 40);
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
    // Request n is answered 300 ms after request n - 1's answer: the last one 3 s after the first request, far past a
    // drain time of 500 ms, but never 500 ms without an answer.
    const { tap, pairing, send } = await tappedBackend(65, (n) => 300 * n);
    const requests = 10;
    await send(requests, 0);
    await drainBackends({ backends: [], taps: [{ tap, pairing }], drainMs: 500 });
    expect(tap.counters.replies).toBe(requests);
    expect(pairing.owedAnswers).toBe(0);
  });

  it('waits no longer than its deadline for answers a backend never sends', async () => {
    const { tap, pairing, send } = await tappedBackend(63, () => undefined);
    await send(1, 0);
    const startedMs = Date.now();
    await drainBackends({ backends: [], taps: [{ tap, pairing }], drainMs: 500 });
    const waitedMs = Date.now() - startedMs;
    expect(pairing.owedAnswers).toBe(1);
    expect(waitedMs).toBeGreaterThanOrEqual(490);
    expect(waitedMs).toBeLessThan(3000);
  });
});
