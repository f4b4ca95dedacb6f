import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCalampMessage, calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { ackedBy, metricValue, startRelayRig as startRig, type RelayRig } from '../helpers/relay-rig.ts';
import { relayIoPaths } from '../helpers/relay-io-paths.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PORT = 24_600;
let rig: RelayRig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

const message = (sequence: number, serviceType = 1): Uint8Array =>
  buildCalampMessage({ mobileId: '4000000001', serviceType, messageType: 2, sequence, body: Buffer.from(`r${sequence}`) });

async function exchange(r: RelayRig, count: number, port = PORT): Promise<void> {
  const start = r.device.replies.length;
  for (let i = 0; i < count; i++) {
    await r.device.send(message(i), port, r.relayIp);
    await r.device.waitForReplies(start + i + 1, 10_000);
  }
}

const received = (r: RelayRig): number[] => r.backends.map((b) => b.counters.received);

describe.each(relayIoPaths().map((io) => io.kind))('reference relay over real UDP (dual-mirroring spec, integration tests, %s)', (io) => {
  const startRelayRig = (dir: string, options: Parameters<typeof startRig>[1]): Promise<RelayRig> => startRig(dir, { ...options, io });
  it('mirror disabled: only the primary gets packets, and its ACK reaches the device', async () => {
    await withTempDir(async (dir) => {
      rig = await startRelayRig(dir, { relayIp: '127.0.3.1', ports: [PORT], backends: [{ ip: '127.0.3.11' }, { ip: '127.0.3.12' }], routes: { routes: [{ port: PORT, target: '127.0.3.11' }] } });
      await exchange(rig, 10);
      expect(rig.device.replies).toHaveLength(10);
      expect(rig.device.replies.every((r) => r.from === '127.0.3.1' && r.port === PORT && ackedBy(r.payload) === 11)).toBe(true);
      expect(received(rig)).toEqual([10, 0]);
    });
  });

  it.each([
    { ackFromMirror: false, expected: 21 },
    { ackFromMirror: true, expected: 22 },
  ])('mirror enabled, ack_from_mirror=$ackFromMirror: both backends get every packet, the ACK comes from the configured one', async ({ ackFromMirror, expected }) => {
    await withTempDir(async (dir) => {
      rig = await startRelayRig(dir, {
        relayIp: '127.0.3.2',
        ports: [PORT],
        backends: [{ ip: '127.0.3.21' }, { ip: '127.0.3.22' }],
        routes: { mirror: true, mirror_ip: '127.0.3.22', ack_from_mirror: ackFromMirror, routes: [{ port: PORT, target: '127.0.3.21', customer: 'acme', Device: 'calamplmd' }] },
      });
      await exchange(rig, 20);
      await waitFor(() => received(rig!)[1] === 20, 'the mirror to receive its 20 copies');
      expect(received(rig)).toEqual([20, 20]);
      expect(rig.device.replies).toHaveLength(20);
      expect(rig.device.replies.map((r) => ackedBy(r.payload))).toEqual(Array(20).fill(expected));
      const metrics = await rig.metricsText();
      const ackType = ackFromMirror ? 'mirror' : 'primary';
      const fafType = ackFromMirror ? 'primary' : 'mirror';
      expect(metrics).toMatch(new RegExp(`udp_relay_packets_total\\{port="${PORT}",target="[\\d.]+",backend_type="${ackType}",customer="acme",device="calamplmd",status="success"\\} 20`));
      expect(metrics).toMatch(new RegExp(`backend_type="${fafType}",customer="acme",device="calamplmd",status="sent"\\} 20`));
    });
  });

  it('flipping ack_from_mirror by a live reload flips the ACK source', async () => {
    await withTempDir(async (dir) => {
      const routes = (ackFromMirror: boolean) => ({ mirror: true, mirror_ip: '127.0.3.32', ack_from_mirror: ackFromMirror, routes: [{ port: PORT, target: '127.0.3.31' }] });
      rig = await startRelayRig(dir, { relayIp: '127.0.3.3', ports: [PORT], backends: [{ ip: '127.0.3.31' }, { ip: '127.0.3.32' }], routes: routes(false) });
      await exchange(rig, 5);
      await rig.rewriteRoutes(routes(true));
      expect(rig.service.relay.current.version).toBe(2);
      await exchange(rig, 5);
      expect(rig.device.replies.map((r) => ackedBy(r.payload))).toEqual([31, 31, 31, 31, 31, 32, 32, 32, 32, 32]);
      const config = await rig.debug<{ version: number; source: string }>('/debug/config');
      expect(config).toMatchObject({ version: 2, source: 'file' });
    });
  });

  // How much a dead mirror costs the ACK flow in time is measured by `npm run bench -- relay-faults`, not here.
  it('fire-and-forget failure: a dead mirror leaves every device ACK in place and records the error', async () => {
    await withTempDir(async (dir) => {
      // Mirror 127.0.3.42 has nothing listening: its sends get ICMP port unreachable.
      rig = await startRelayRig(dir, {
        relayIp: '127.0.3.4',
        ports: [PORT],
        backends: [{ ip: '127.0.3.41' }, { ip: '127.0.3.43' }],
        routes: { mirror: true, mirror_ip: '127.0.3.43', routes: [{ port: PORT, target: '127.0.3.41' }] },
      });
      await exchange(rig, 50);
      await rig.rewriteRoutes({ mirror: true, mirror_ip: '127.0.3.42', routes: [{ port: PORT, target: '127.0.3.41' }] });
      await exchange(rig, 200);
      expect(rig.device.replies).toHaveLength(250);
      expect(rig.device.replies.every((r) => ackedBy(r.payload) === 41)).toBe(true);
      const refused = (text: string): number => metricValue(text, 'udp_relay_backend_errors_total', '{target="127.0.3.42",backend_type="mirror",reason="refused"}');
      await waitFor(async () => refused(await rig!.metricsText()) > 0, 'refused sends to the dead mirror to be counted');
      const targets = await rig.debug<{ targets: { url: string; state: string; lastError: string | null }[] }>('/debug/targets');
      expect(targets.targets.find((t) => t.url === 'udp://127.0.3.42')).toMatchObject({ state: 'failing' });
    });
  });

  it("a device's first packet nobody answers reaches the ACK backend before its first request, read in the same turn", async () => {
    await withTempDir(async (dir) => {
      // The ACK backend: a plain socket that keeps what arrives, in order (no answers are needed to see the order).
      const primary = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => primary.bind(PORT, '127.0.3.91', resolve));
      const arrived: string[] = [];
      primary.on('message', (payload) => arrived.push(calampLmd.decode(payload).matchKey ?? '?'));
      try {
        rig = await startRelayRig(dir, { relayIp: '127.0.3.9', ports: [PORT], backends: [], routes: { routes: [{ port: PORT, target: '127.0.3.91', protocol: 'calamp-lmd' }] } });
        const devices = await Promise.all(Array.from({ length: 20 }, () => UdpClient.open('127.0.0.1')));
        try {
          // Each device new to the relay: its unacknowledged report (service type 0), then its request, sent in one
          // turn so that the relay reads both at once; the report goes out on the shared socket (no binding yet), the
          // request on the binding it makes.
          await Promise.all(devices.flatMap((device, i) => [device.send(message(2 * i, 0), PORT, '127.0.3.9'), device.send(message(2 * i + 1), PORT, '127.0.3.9')]));
          await waitFor(() => arrived.length === 40, 'the primary to receive all 40 packets');
          // Each device's own order: its report before its request.
          for (let i = 0; i < 20; i++) expect(arrived.indexOf(`seq:${2 * i}`), arrived.join(' ')).toBeLessThan(arrived.indexOf(`seq:${2 * i + 1}`));
        } finally {
          for (const device of devices) await device.close();
        }
      } finally {
        primary.close();
      }
    });
  });

  it('counts a timeout when the ACK backend does not answer', async () => {
    await withTempDir(async (dir) => {
      rig = await startRelayRig(dir, {
        relayIp: '127.0.3.5',
        ports: [PORT],
        timeoutMs: 200,
        backends: [{ ip: '127.0.3.51', faults: { blackholeAfterMs: 0 } }],
        routes: { routes: [{ port: PORT, target: '127.0.3.51' }] },
      });
      await rig.device.send(message(1), PORT, rig.relayIp);
      await rig.device.send(message(2, 0), PORT, rig.relayIp);
      const timedOut = /backend_type="primary",customer="",device="",status="timeout"\} 2/;
      await waitFor(async () => timedOut.test(await rig!.metricsText()), 'two timeouts in /metrics');
      expect(rig.device.replies).toHaveLength(0);
    });
  });

  it('rejects a bad reload and keeps the last known good, showing the rejection at /debug/config', async () => {
    await withTempDir(async (dir) => {
      rig = await startRelayRig(dir, { relayIp: '127.0.3.6', ports: [PORT], backends: [{ ip: '127.0.3.61' }], routes: { routes: [{ port: PORT, target: '127.0.3.61' }] } });
      await rig.rewriteRoutes({ mirror: true, routes: [{ port: PORT, target: '127.0.3.61' }] });
      const config = await rig.debug<{ version: number; lastRejection: { error: string; source: string } | null }>('/debug/config');
      expect(config.version).toBe(1);
      expect(config.lastRejection?.error).toMatch(/route 24600: mirror_ip mirroring is on but no mirror_ip is set/);
      await exchange(rig, 3);
      expect(rig.device.replies).toHaveLength(3);
    });
  });

  it('adds and removes listeners on reload, and the kill switch drops (and counts) while the relay keeps listening', async () => {
    await withTempDir(async (dir) => {
      const other = PORT + 1;
      rig = await startRelayRig(dir, { relayIp: '127.0.3.7', ports: [PORT, other], backends: [{ ip: '127.0.3.71' }], routes: { routes: [{ port: PORT, target: '127.0.3.71' }] } });
      await rig.rewriteRoutes({ routes: [{ port: PORT, target: '127.0.3.71' }, { port: other, target: '127.0.3.71' }] });
      expect(rig.service.relay.ports.sort()).toEqual([PORT, other]);
      await exchange(rig, 2, other);
      expect(rig.device.replies).toHaveLength(2);
      await rig.rewriteRoutes({ kill_switch: true, routes: [{ port: PORT, target: '127.0.3.71' }] });
      expect(rig.service.relay.ports).toEqual([PORT]);
      for (let i = 0; i < 5; i++) await rig.device.send(message(i), PORT, rig.relayIp);
      await waitFor(async () => (await rig!.metricsText()).includes('udp_relay_dropped_total{reason="kill_switch"} 5'), 'five kill-switch drops');
      expect(rig.device.replies).toHaveLength(2);
      const health = await rig.debug<{ status: string; killSwitch: boolean }>('/debug/health');
      expect(health).toMatchObject({ status: 'kill_switch', killSwitch: true });
      expect(await rig.metricsText()).toContain('udp_relay_dropped_total{reason="kill_switch"} 5');
      await rig.rewriteRoutes({ kill_switch: false, routes: [{ port: PORT, target: '127.0.3.71' }] });
      await exchange(rig, 2);
      expect(rig.device.replies).toHaveLength(4);
    });
  });

  it('fans out to N targets: the primary index answers, disabled targets get nothing, /debug/parity counts per target', async () => {
    await withTempDir(async (dir) => {
      rig = await startRelayRig(dir, {
        relayIp: '127.0.3.8',
        ports: [PORT],
        backends: [{ ip: '127.0.3.81' }, { ip: '127.0.3.82' }, { ip: '127.0.3.83' }],
        routes: { routes: [{ port: PORT, targets: [{ ip: '127.0.3.81' }, { ip: '127.0.3.82' }, { ip: '127.0.3.83', enabled: false }], primary_index: 1 }] },
      });
      await exchange(rig, 10);
      await waitFor(() => received(rig!)[0] === 10, 'the fire-and-forget target to receive its 10 copies');
      expect(received(rig)).toEqual([10, 10, 0]);
      expect(rig.device.replies.every((r) => ackedBy(r.payload) === 82)).toBe(true);
      const parity = await rig.debug<{ totalAcked: number; perTarget: { url: string; sent: number; acked: number }[] }>('/debug/parity');
      expect(parity.totalAcked).toBe(10);
      expect(parity.perTarget).toEqual(
        expect.arrayContaining([
          { url: 'udp://127.0.3.81', role: 'target-0', sent: 10, acked: 0 },
          { url: 'udp://127.0.3.82', role: 'target-1', sent: 10, acked: 10 },
          { url: 'udp://127.0.3.83', role: 'target-2', sent: 0, acked: 0 },
        ]),
      );
      const targets = await rig.debug<{ mode: string; targets: { url: string; enabled: boolean; counters: { dropped: number } }[] }>('/debug/targets');
      expect(targets.mode).toBe('parallel');
      expect(targets.targets.find((t) => t.url === 'udp://127.0.3.83')).toMatchObject({ enabled: false, counters: { dropped: 10 } });
    });
  });

  describe('reference relay: an ACK reaches only the device that asked', () => {
    it('under a slow primary that answers late and twice, no device ever gets another device\'s ACK; late replies are counted and dropped', async () => {
      await withTempDir(async (dir) => {
        // Relay timeout 300 ms, primary 50-550 ms with 30% duplicate ACKs: about half of the ACKs come after their
        // request timed out, while other devices' requests wait on other sockets.
        rig = await startRelayRig(dir, {
          relayIp: '127.0.4.1',
          ports: [PORT],
          timeoutMs: 300,
          backends: [{ ip: '127.0.4.11', faults: { latencyMs: 300, jitterMs: 250, duplicateAckRate: 0.3, seed: 5 } }],
          routes: { routes: [{ port: PORT, target: '127.0.4.11' }] },
        });
        const devices = await Promise.all(Array.from({ length: 40 }, (_, i) => UdpClient.open(`127.0.4.${100 + i}`)));
        try {
          const rounds = 25;
          for (let round = 0; round < rounds; round++) {
            // Disjoint sequence numbers per device: device i uses i * 1000 + round.
            await Promise.all(devices.map((device, i) => device.send(message(i * 1000 + round), PORT, rig!.relayIp)));
            await new Promise((resolve) => setImmediate(resolve));
          }
          const lateReplies = (text: string): number => metricValue(text, 'udp_relay_late_replies_total');
          await waitFor(async () => {
            const text = await rig!.metricsText();
            const settled = [...text.matchAll(/status="(success|timeout)"\} (\d+)/g)].reduce((sum, m) => sum + Number(m[2]), 0);
            return settled === devices.length * rounds && lateReplies(text) > 0;
          }, 'every request settled and some late replies counted');
          let delivered = 0;
          devices.forEach((device, i) => {
            for (const reply of device.replies) {
              const sequence = Number(calampLmd.decodeAck(reply.payload).fields.sequence);
              expect(Math.floor(sequence / 1000), `device ${i} got the ACK of sequence ${sequence}`).toBe(i);
            }
            delivered += device.replies.length;
          });
          expect(delivered).toBeGreaterThan(0);
          expect(delivered).toBeLessThanOrEqual(devices.length * rounds);
        } finally {
          await Promise.all(devices.map((device) => device.close()));
        }
      });
    });

    it('a port removed and added back within its drain is listening again', async () => {
      await withTempDir(async (dir) => {
        const routes = { routes: [{ port: PORT, target: '127.0.4.21' }, { port: PORT + 2, target: '127.0.4.21' }] };
        rig = await startRelayRig(dir, { relayIp: '127.0.4.2', ports: [PORT, PORT + 2], timeoutMs: 2000, backends: [{ ip: '127.0.4.21' }], routes });
        await rig.rewriteRoutes({ routes: [{ port: PORT, target: '127.0.4.21' }] });
        expect(rig.service.relay.ports).toEqual([PORT]);
        await rig.rewriteRoutes(routes);
        expect(rig.service.relay.ports.sort()).toEqual([PORT, PORT + 2]);
        expect(rig.service.relay.lastRejection).toBeNull();
        await exchange(rig, 3, PORT + 2);
        expect(rig.device.replies).toHaveLength(3);
      });
    });

    it('a reload whose port is held by another socket says so at /debug/config and binds once the port is free', async () => {
      await withTempDir(async (dir) => {
        const routes = { routes: [{ port: PORT, target: '127.0.4.31' }] };
        rig = await startRelayRig(dir, { relayIp: '127.0.4.3', ports: [PORT, PORT + 4], timeoutMs: 2000, backends: [{ ip: '127.0.4.31' }], routes });
        const blocker = dgram.createSocket('udp4');
        await new Promise<void>((resolve) => blocker.bind(PORT + 4, '127.0.4.3', resolve));
        await rig.rewriteRoutes({ routes: [...routes.routes, { port: PORT + 4, target: '127.0.4.31' }] });
        const config = await rig.debug<{ lastRejection: { error: string } | null }>('/debug/config');
        expect(config.lastRejection?.error).toMatch(/cannot listen on 127\.0\.4\.3:24604.*retrying in 1 s/);
        await new Promise<void>((resolve) => blocker.close(resolve));
        await waitFor(() => rig!.service.relay.ports.includes(PORT + 4), 'the retried reload to bind the freed port');
        await exchange(rig, 2, PORT + 4);
        expect(rig.device.replies).toHaveLength(2);
      });
    });
  });
});
