import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCalampMessage } from '../../src/protocols/calamp-lmd.ts';
import { metricValue, startRelayRig, type RelayRig } from '../helpers/relay-rig.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PORT = 21_640;
/** The largest payload a UDP datagram over IPv4 can carry. */
const MAX_UDP_PAYLOAD = 65_507;
let rig: RelayRig | undefined;
const clients: UdpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await rig?.close();
  rig = undefined;
});

const report = (sequence: number): Uint8Array => buildCalampMessage({ mobileId: '4000000077', serviceType: 1, messageType: 2, sequence, body: Buffer.from(`r${sequence}`) });

/** Sum of `udp_relay_packets_total` for one backend type, by status. */
function statuses(text: string, backendType: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of text.matchAll(/udp_relay_packets_total\{([^}]*)\} (\d+)/g)) {
    if (!(m[1] ?? '').includes(`backend_type="${backendType}"`)) continue;
    const status = /status="([^"]+)"/.exec(m[1] ?? '')?.[1] ?? '';
    counts[status] = (counts[status] ?? 0) + Number(m[2]);
  }
  return counts;
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((sum, n) => sum + n, 0);

describe('reference relay robustness (real sockets)', () => {
  it('zero-length, maximum-size and random datagrams beside a mirror that refuses and a primary that stops: forwarding goes on, every packet gets one status, nothing piles up', async () => {
    await withTempDir(async (dir) => {
      // The mirror address has no listener: every send to it meets ICMP port unreachable.
      rig = await startRelayRig(dir, {
        relayIp: '127.0.13.1',
        ports: [PORT],
        timeoutMs: 300,
        backends: [{ ip: '127.0.13.11' }],
        routes: { routes: [{ port: PORT, target: '127.0.13.11', mirror: true, mirror_ip: '127.0.13.12' }] },
      });
      const [device, junk] = [await UdpClient.open('127.0.13.21'), await UdpClient.open('127.0.13.22')];
      clients.push(device, junk);
      let junkSent = 0;
      for (let i = 0; i < 100; i++) {
        await device.send(report(i), PORT, rig.relayIp);
        const payload = i % 5 === 0 ? Buffer.alloc(0) : i % 5 === 1 ? randomBytes(MAX_UDP_PAYLOAD) : randomBytes(1 + ((i * 37) % 1500));
        await junk.send(payload, PORT, rig.relayIp);
        junkSent++;
        if (i % 10 === 9) await device.waitForReplies(i + 1);
      }
      // The refusing mirror never held the device's ACKs back.
      await waitFor(() => device.replies.length === 100, 'all 100 ACKs from the primary');

      // Every datagram got exactly one final status per backend, and the mirror's refusals are counted apart.
      const received = 100 + junkSent;
      await waitFor(async () => total(statuses(await rig!.metricsText(), 'primary')) === received, 'a final status for every packet at the primary');
      let text = await rig.metricsText();
      expect(total(statuses(text, 'mirror'))).toBe(received);
      expect(metricValue(text, 'udp_relay_received_total', `{port="${PORT}"}`)).toBe(received);
      expect(text).toMatch(/udp_relay_backend_errors_total\{target="127\.0\.13\.12",backend_type="mirror",reason="refused"\} [1-9]/);

      // The primary stops answering: requests time out, are counted, and nothing is left waiting.
      await rig.backends[0]?.stop();
      for (let i = 100; i < 150; i++) await device.send(report(i), PORT, rig.relayIp);
      await waitFor(async () => total(statuses(await rig!.metricsText(), 'primary')) === received + 50, 'a final status for the requests to the stopped primary');
      text = await rig.metricsText();
      const primary = statuses(text, 'primary');
      expect((primary.timeout ?? 0) + (primary.read_failed ?? 0) + (primary.write_failed ?? 0)).toBeGreaterThanOrEqual(50);
      expect(metricValue(text, 'udp_relay_waiting_acks')).toBe(0);
      // Two clients, two backends: a handful of sockets, however much was sent.
      expect(metricValue(text, 'udp_relay_upstream_sockets')).toBeLessThanOrEqual(4);
      const health = await rig.debug<{ status: string }>('/debug/health');
      expect(['degraded', 'unhealthy', 'failing']).toContain(health.status);
      expect(device.replies).toHaveLength(100);
    });
  });
});
