import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { buildCalampMessage, calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';

describe('parity relay (subprocess)', () => {
  afterEach(killAllParity);

  it.each([
    { routes: { mirror: true, routes: [{ port: 18172, target: '10.0.0.1' }] }, line: /route 18172: mirror_ip mirroring is on but no mirror_ip is set/ },
    { routes: { mirror: true, mirror_ip: '10.0.0.300', routes: [{ port: 18172, target: '10.0.0.1' }] }, line: /mirror_ip "10.0.0.300" is not a valid IPv4 address/ },
    { routes: { routes: [{ port: 0, target: '10.0.0.1' }] }, line: /routes\[0\]\.port 0 is not a port/ },
    { routes: { routes: [{ port: 9, target: '10.0.0.1' }, { port: 9, target: '10.0.0.2' }] }, line: /route 9: port is used by more than one route/ },
  ])('exits 1 with one line naming the route and field for an invalid config', async ({ routes, line }) => {
    await withTempDir(async (dir) => {
      writeFileSync(join(dir, 'routes.json'), JSON.stringify(routes));
      const run = await runParity(['relay', '--routes', join(dir, 'routes.json'), '--debug-port', '0']);
      expect(run.code).toBe(1);
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(line);
    });
  });

  // Passed as an integer, 99999 reached the listener, which threw: an "unexpected error", exit 1.
  it('refuses a --debug-port that is not a port in one line, exit 2, before reading any config', async () => {
    const run = await runParity(['relay', '--routes', 'routes.json', '--debug-port', '99999']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('"99999" is not a port (0-65535; 0: any free port)');
  });

  it('logs mirror_enabled per mirrored route at start, relays ACKs, reloads on SIGHUP, and stops on SIGTERM', async () => {
    await withTempDir(async (dir) => {
      const routesPath = join(dir, 'routes.json');
      writeFileSync(routesPath, JSON.stringify({ mirror: true, mirror_ip: '127.0.3.92', routes: [{ port: 24700, target: '127.0.3.91', customer: 'acme', Device: 'calamplmd' }, { port: 24701, target: '127.0.3.91', mirror: false }] }));
      writeFileSync(join(dir, 'config.yaml'), 'app:\n  bind_ip: "127.0.3.90"\n  response_timeout_ms: 1000\n');
      const backends = ['127.0.3.91', '127.0.3.92'].map((ip) => new SimulatedBackend({ protocol: calampLmd, ip, ports: [24700], role: ip }));
      for (const backend of backends) await backend.start();
      const relay = spawnParity(['relay', '--routes', routesPath, '--config', join(dir, 'config.yaml'), '--debug-port', '0']);
      const events = (): Record<string, unknown>[] => relay.stdout().split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as Record<string, unknown>);
      const count = (event: string): number => events().filter((e) => e.event === event).length;
      try {
        expect(await relay.waitForOutput(() => count('relay_started') === 1), relay.stderr()).toBe(true);
        expect(events().filter((e) => e.event === 'mirror_enabled')).toEqual([
          expect.objectContaining({ level: 'info', port: 24700, primary_target: '127.0.3.91', mirror_ip: '127.0.3.92', ack_source: 'primary' }),
        ]);
        const started = events().find((e) => e.event === 'relay_started') as { debug: string };
        expect(started.debug).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const device = await UdpClient.open();
        await device.send(buildCalampMessage({ mobileId: '77', serviceType: 1, messageType: 2, sequence: 5, body: new Uint8Array(3) }), 24700, '127.0.3.90');
        expect(await device.waitForReplies(1)).toBe(1);
        await device.close();
        const reloadsBefore = count('config_reloaded');
        relay.child.kill('SIGHUP');
        expect(await relay.waitForOutput(() => count('config_reloaded') > reloadsBefore)).toBe(true);
        expect(events().filter((e) => e.event === 'config_reloaded').at(-1)).toMatchObject({ source: 'sighup' });
        const config = (await (await request(`${started.debug}/debug/config`)).body.json()) as { version: number };
        expect(config.version).toBeGreaterThanOrEqual(2);
        // No per-packet logging.
        expect(events().every((e) => ['config_loaded', 'mirror_enabled', 'relay_started', 'config_reloaded'].includes(String(e.event)))).toBe(true);
        expect(await relay.stop('SIGTERM')).toBe(0);
        expect(events().at(-1)?.event).toBe('relay_stopped');
      } finally {
        for (const backend of backends) await backend.stop();
      }
    });
  });
});
