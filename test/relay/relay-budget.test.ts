import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCalampMessage, calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { metricValue, startRelayRig, type RelayRig } from '../helpers/relay-rig.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PORT = 21610;
let rig: RelayRig | undefined;
let clients: UdpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  clients = [];
  await rig?.close();
  rig = undefined;
});

const report = (mobileId: string, sequence: number, serviceType: number): Uint8Array =>
  buildCalampMessage({ mobileId, serviceType, messageType: 2, sequence, body: Buffer.from(`r${sequence}`) });


async function openClients(ips: readonly string[]): Promise<UdpClient[]> {
  const opened = await Promise.all(ips.map((ip) => UdpClient.open(ip)));
  clients.push(...opened);
  return opened;
}

describe('relay socket budget under floods (real sockets)', () => {
  it('junk and unacknowledged reports from more sources than the budget hold no binding: real devices keep every ACK', async () => {
    await withTempDir(async (dir) => {
      // A budget of 60 sockets against 400 flooding sources: with a binding each, the flood alone would fill it.
      rig = await startRelayRig(dir, {
        relayIp: '127.0.8.1',
        ports: [PORT],
        timeoutMs: 2000,
        maxSockets: 60,
        backends: [{ ip: '127.0.8.11' }, { ip: '127.0.8.12' }],
        routes: { routes: [{ port: PORT, target: '127.0.8.11', mirror: true, mirror_ip: '127.0.8.12', protocol: 'calamp-lmd' }] },
      });
      const flooders = await openClients(Array.from({ length: 400 }, (_, i) => `127.0.9.${(i % 200) + 1}`));
      let junk = 0;
      for (const [i, flooder] of flooders.entries()) {
        // Zero-length, random and unacknowledged CalAmp: none of them is answered by a CalAmp server.
        await flooder.send(Buffer.alloc(0), PORT, rig.relayIp);
        await flooder.send(randomBytes(1 + (i % 1400)), PORT, rig.relayIp);
        await flooder.send(report(`5${String(i).padStart(9, '0')}`, i, 0), PORT, rig.relayIp);
        junk += 3;
      }
      const devices = await openClients(Array.from({ length: 20 }, (_, i) => `127.0.10.${i + 1}`));
      for (let round = 0; round < 5; round++) {
        await Promise.all(devices.map((device, i) => device.send(report(`4${String(i).padStart(9, '0')}`, i * 100 + round, 1), PORT, rig!.relayIp)));
      }
      await waitFor(() => devices.every((device) => device.replies.length === 5), 'every real device to get its 5 ACKs');
      devices.forEach((device, i) => {
        for (const reply of device.replies) expect(Math.floor(Number(calampLmd.decodeAck(reply.payload).fields.sequence) / 100)).toBe(i);
      });
      const text = await rig.metricsText();
      // The random payloads that happen to decode as acknowledged CalAmp are too few to matter; the rest held nothing.
      const noReply = metricValue(text, 'udp_relay_no_reply_expected_total', `{port="${PORT}"}`);
      expect(noReply).toBeGreaterThanOrEqual(junk - 10);
      expect(text).not.toMatch(/udp_relay_refused_total\{reason="(socket|source|route)_budget"\}/);
      expect(metricValue(text, 'udp_relay_upstream_sockets')).toBeLessThanOrEqual(20 + 2 + 10);
      // Only what decoded as an acknowledged report can have been answered.
      expect(flooders.reduce((sum, flooder) => sum + flooder.replies.length, 0)).toBeLessThanOrEqual(junk - noReply);
    });
  });

  it('one source address cannot take more than its share of the budget; other devices are still served', async () => {
    await withTempDir(async (dir) => {
      // No protocol on the route: every datagram may be answered and waits on its binding. A slow primary keeps them
      // all waiting. Budget 40: a source may hold 10 bindings, a route 30.
      rig = await startRelayRig(dir, {
        relayIp: '127.0.8.2',
        ports: [PORT + 1],
        timeoutMs: 5000,
        maxSockets: 40,
        backends: [{ ip: '127.0.8.21', faults: { latencyMs: 300 } }],
        routes: { routes: [{ port: PORT + 1, target: '127.0.8.21' }] },
      });
      const sprayer = await openClients(Array.from({ length: 25 }, () => '127.0.11.1'));
      for (const [i, socket] of sprayer.entries()) await socket.send(report('4999999999', i, 1), PORT + 1, rig.relayIp);
      const devices = await openClients(Array.from({ length: 20 }, (_, i) => `127.0.11.${i + 10}`));
      await Promise.all(devices.map((device, i) => device.send(report(`4${String(i).padStart(9, '0')}`, 1000 + i, 1), PORT + 1, rig!.relayIp)));
      await waitFor(() => devices.every((device) => device.replies.length === 1), 'every other device to get its ACK');
      const text = await rig.metricsText();
      expect(metricValue(text, 'udp_relay_refused_total', '{reason="source_budget"}')).toBe(15);
      expect(sprayer.reduce((sum, socket) => sum + socket.replies.length, 0)).toBe(10);
    });
  });

  it('with the route\'s protocol, an ACK that comes after its request timed out is dropped, not given to the device\'s next request', async () => {
    await withTempDir(async (dir) => {
      // The primary answers after 1 s, the relay waits 600 ms: every ACK is late. The second request is sent as the
      // first times out, so it is still waiting when the first one's ACK comes (at 1 s); without the protocol that
      // late ACK would answer it.
      rig = await startRelayRig(dir, {
        relayIp: '127.0.8.4',
        ports: [PORT + 3],
        timeoutMs: 600,
        backends: [{ ip: '127.0.8.41', faults: { latencyMs: 1000 } }],
        routes: { routes: [{ port: PORT + 3, target: '127.0.8.41', protocol: 'calamp-lmd' }] },
      });
      const [device] = await openClients(['127.0.12.1']);
      await device!.send(report('4000000001', 1, 1), PORT + 3, rig.relayIp);
      await waitFor(async () => /status="timeout"\} 1/.test(await rig!.metricsText()), 'the first request to time out');
      await device!.send(report('4000000001', 2, 1), PORT + 3, rig.relayIp);
      await waitFor(async () => metricValue(await rig!.metricsText(), 'udp_relay_late_replies_total') === 2, 'both late ACKs to be counted');
      expect(device!.replies).toHaveLength(0);
    });
  });

  it('refuses a route protocol it does not know, naming the route and the field', async () => {
    await withTempDir(async (dir) => {
      await expect(
        startRelayRig(dir, { relayIp: '127.0.8.3', ports: [PORT + 2], backends: [], routes: { routes: [{ port: PORT + 2, target: '127.0.8.31', protocol: 'morse' }] } }),
      ).rejects.toThrow(/route 21612.*protocol.*"morse" is not a known protocol/);
    });
  });
});
