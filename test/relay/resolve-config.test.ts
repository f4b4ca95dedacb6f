import { describe, expect, it } from 'vitest';
import { RelayConfigError } from '../../src/core/errors.ts';
import { DEFAULT_APP_CONFIG, type RoutesFile } from '../../src/relay/relay-config.ts';
import { resolveRelayConfig } from '../../src/relay/resolve-config.ts';

const app = { ...DEFAULT_APP_CONFIG };
const resolve = (file: RoutesFile, appConfig = app) => resolveRelayConfig(file, appConfig, 'routes.json');

/** The spec's full example. */
const SPEC_EXAMPLE: RoutesFile = {
  mirror: true,
  mirror_ip: '192.168.94.241',
  ack_from_mirror: false,
  routes: [
    { port: 18172, target: '207.189.178.80', customer: 'powertelematics', Device: 'calamplmd' },
    { port: 8807, target: '209.34.233.116', customer: 'legacy-customer', Device: 'legacy-device', ack_from_mirror: true },
    { port: 10166, target: '209.34.233.121', customer: 'acme', Device: 'sensor-alpha', mirror: false },
  ],
};

describe('relay configuration (dual-mirroring spec, unit tests)', () => {
  it('parses the mirror fields of the spec example and applies global defaults to routes', () => {
    const config = resolve(SPEC_EXAMPLE);
    const route = config.routes.get(18172);
    expect(route).toMatchObject({ customer: 'powertelematics', device: 'calamplmd', mirror: true, ackSource: 'primary' });
    expect(route?.backends).toEqual([
      { type: 'primary', ip: '207.189.178.80', enabled: true, ack: true },
      { type: 'mirror', ip: '192.168.94.241', enabled: true, ack: false },
    ]);
  });

  it('lets a route override the global settings', () => {
    const config = resolve(SPEC_EXAMPLE);
    expect(config.routes.get(8807)).toMatchObject({ ackSource: 'mirror' });
    expect(config.routes.get(8807)?.backends.map((b) => [b.type, b.ack])).toEqual([
      ['primary', false],
      ['mirror', true],
    ]);
    expect(config.routes.get(10166)).toMatchObject({ mirror: false, backends: [{ type: 'primary', ack: true }] });
  });

  it('resolves mirror_ip route -> routes.json -> config.yaml', () => {
    const file: RoutesFile = {
      mirror: true,
      routes: [
        { port: 1, target: '10.0.0.1', mirror_ip: '10.0.0.9' },
        { port: 2, target: '10.0.0.1' },
      ],
    };
    const config = resolve(file, { ...app, mirror_ip: '10.0.0.7' });
    expect(config.routes.get(1)?.backends[1]?.ip).toBe('10.0.0.9');
    expect(config.routes.get(2)?.backends[1]?.ip).toBe('10.0.0.7');
    expect(resolve({ ...file, mirror_ip: '10.0.0.8' }, { ...app, mirror_ip: '10.0.0.7' }).routes.get(2)?.backends[1]?.ip).toBe('10.0.0.8');
  });

  it.each([
    { name: 'mirror=true with no mirror_ip anywhere', file: { mirror: true, routes: [{ port: 18172, target: '10.0.0.1' }] }, match: /route 18172: mirror_ip mirroring is on but no mirror_ip is set/ },
    { name: 'an invalid route mirror_ip', file: { mirror: true, routes: [{ port: 18172, target: '10.0.0.1', mirror_ip: '10.0.0' }] }, match: /route 18172: mirror_ip "10.0.0" is not a valid IPv4/ },
    { name: 'an invalid global mirror_ip', file: { mirror: true, mirror_ip: '300.1.1.1', routes: [] }, match: /mirror_ip "300.1.1.1" is not a valid IPv4/ },
    { name: 'an invalid target', file: { routes: [{ port: 9000, target: 'backend.local' }] }, match: /route 9000: target "backend.local" is not a valid IPv4/ },
    { name: 'a port out of range', file: { routes: [{ port: 70000, target: '10.0.0.1' }] }, match: /routes\[0\]\.port 70000 is not a port \(1-65535\)/ },
    { name: 'a duplicate port', file: { routes: [{ port: 5, target: '10.0.0.1' }, { port: 5, target: '10.0.0.2' }] }, match: /route 5: port is used by more than one route/ },
    { name: 'a non-boolean mirror', file: { routes: [{ port: 5, target: '10.0.0.1', mirror: 'yes' }] }, match: /route 5: mirror must be true or false/ },
    { name: 'a primary_index outside targets', file: { routes: [{ port: 5, targets: [{ ip: '10.0.0.1' }], primary_index: 2 }] }, match: /route 5: primary_index 2 is not an index/ },
  ])('rejects $name, naming the route and field', ({ file, match }) => {
    const attempt = () => resolve(file as RoutesFile);
    expect(attempt).toThrow(RelayConfigError);
    expect(attempt).toThrow(match);
    try {
      attempt();
    } catch (error) {
      expect((error as RelayConfigError).exitCode).toBe(1);
    }
  });

  it('takes socket_buffer_bytes from config.yaml (4 MiB by default) and refuses one no socket can use, naming the field', () => {
    const file: RoutesFile = { routes: [{ port: 5, target: '10.0.0.1' }] };
    expect(resolve(file).socketBufferBytes).toBe(4 * 1024 * 1024);
    expect(resolve(file, { ...app, socket_buffer_bytes: 131_072 }).socketBufferBytes).toBe(131_072);
    for (const bad of [1024, 2 ** 31, 65_536.5, '4MB']) {
      const attempt = () => resolve(file, { ...app, socket_buffer_bytes: bad as number });
      expect(attempt).toThrow(RelayConfigError);
      expect(attempt).toThrow(/app\.socket_buffer_bytes .* is not a whole number of bytes from 65536 to 1073741824/);
    }
  });

  it('resolves N-way fan-out: targets, primary index, per-target enabled flags, kill switch', () => {
    const config = resolve({
      kill_switch: true,
      routes: [{ port: 7000, targets: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3', enabled: false }], primary_index: 1 }],
    });
    expect(config.killSwitch).toBe(true);
    expect(config.mode).toBe('parallel');
    expect(config.routes.get(7000)?.backends).toEqual([
      { type: 'target-0', ip: '10.0.0.1', enabled: true, ack: false },
      { type: 'target-1', ip: '10.0.0.2', enabled: true, ack: true },
      { type: 'target-2', ip: '10.0.0.3', enabled: false, ack: false },
    ]);
  });
});
