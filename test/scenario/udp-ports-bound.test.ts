import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { endianness } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { runScenario } from '../../src/scenario/run-scenario.ts';
import { unconnectedUdpSockets, udpPortsBound } from '../../src/scenario/udp-ports-bound.ts';
import { withStore } from '../../src/store/store.ts';
import { LOAD_PROOF_THRESHOLDS } from '../helpers/quick-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const sockets: Socket[] = [];
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function bound(type: 'udp4' | 'udp6', ip: string, port = 0): Promise<Socket> {
  const socket = createSocket(type);
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, ip, () => resolve());
  });
  return socket;
}

const onLinux = process.platform === 'linux';

describe('whether a relay has bound its UDP ports, from the kernel', () => {
  it.skipIf(!onLinux)('sees a port bound on the address, or on every address, and not one nobody holds', async () => {
    const held = (await bound('udp4', '127.0.6.50')).address().port;
    expect(udpPortsBound('127.0.6.50', [held])).toBe(true);
    // The same port on another loopback address is not the relay's.
    expect(udpPortsBound('127.0.6.51', [held])).toBe(false);
    const released = await bound('udp4', '127.0.6.50');
    const freed = released.address().port;
    await new Promise<void>((resolve) => released.close(() => resolve()));
    sockets.splice(sockets.indexOf(released), 1);
    expect(udpPortsBound('127.0.6.50', [freed])).toBe(false);
    expect(udpPortsBound('127.0.6.50', [held, freed])).toBe(false);
  });

  it.skipIf(!onLinux)('does not take a connected socket for a listening one', async () => {
    const socket = await bound('udp4', '127.0.6.53');
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.connect(9, '127.0.6.54', () => resolve()));
    expect(udpPortsBound('127.0.6.53', [port])).toBe(false);
  });

  it.skipIf(!onLinux)('reads IPv6 addresses', async (context) => {
    let port = 0;
    try {
      port = (await bound('udp6', '::1')).address().port;
    } catch {
      context.skip('no IPv6 loopback on this machine');
    }
    expect(udpPortsBound('::1', [port])).toBe(true);
  });

  // The lines below are as a little-endian machine prints them.
  it.skipIf(endianness() !== 'LE')("reads the kernel's table as it prints it: words in the machine's byte order, every address bound, IPv4 through IPv6", () => {
    // Lines as a little-endian Linux prints them (the test binds nothing outside loopback): 127.0.0.1:20500 listening,
    // 0.0.0.0:20501 listening, and a socket connected to 127.0.0.2:9, which is not listening.
    const udp = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  688: 0100007F:5014 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3603840 2 00000000a919aa53 0',
      '  689: 00000000:5015 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 3603841 2 00000000a919aa54 0',
      ' 4088: 0100007F:AD60 0200007F:0009 01 00000000:00000000 00:00000000 00000000     0        0 3603844 2 0000000032b58a8e 0',
    ].join('\n');
    const udp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  100: 00000000000000000000000001000000:5016 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0 0',
      '  101: 0000000000000000FFFF00000100007F:5017 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 2 2 0 0',
    ].join('\n');
    expect(unconnectedUdpSockets(udp, false)).toEqual(['127.0.0.1:20500', '0.0.0.0:20501']);
    expect(unconnectedUdpSockets(udp6, true)).toEqual(['::1:20502', '127.0.0.1:20503']);
  });

  it('cannot tell for an address of another machine', () => {
    expect(udpPortsBound('203.0.113.7', [20500])).toBeUndefined();
  });
});

const FAULT_RELAY = join(import.meta.dirname, '../peers/fault-relay.mjs');

describe('an external relay slow to start', () => {
  it.skipIf(!onLinux)('gets the run only once it listens: every device ACKed, though it binds 1.5 s after its ready_after', async () => {
    const spec = parseScenario(
      {
        name: 'slow-relay',
        traffic: { generate: { devices: 8, duration: '30s', interval: '3s', seed: 3 } },
        relay: {
          external: {
            address: '127.182.0.1',
            command: `sleep 1.5; exec "${process.execPath}" "${FAULT_RELAY}" --listen 127.182.0.1:20500 --primary 127.182.0.2 --mirror 127.182.0.3`,
            ready_after: '100ms',
          },
        },
        backends: { primary: { address: '127.182.0.2', latency: '1ms' }, mirror: { address: '127.182.0.3', latency: '1ms' } },
        replay: { speed: '30x', ack_timeout: '1s', seed: 3 },
        thresholds: LOAD_PROOF_THRESHOLDS,
      },
      'slow-relay.yaml',
    );
    await withTempDir((dir) =>
      withStore(join(dir, 'slow.duckdb'), async (store) => {
        const result = await runScenario(spec, { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: ['json'], screenshot: false });
        expect(result.analysis.findings.map((f) => `${f.severity} ${f.message}`)).toEqual([]);
        expect(result.analysis.verdict).toBe('GO');
        expect(result.replay.stats.sendErrors).toBe(0);
      }),
    );
  });
});
