import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { generic } from '../../src/protocols/generic.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';

afterEach(killAllParity);

describe('parity record (subprocess)', () => {
  it('taps a port into a capture, stops after --max-packets, and the capture is listed', async () => {
    await withTempDir(async (dir) => {
      const backend = new SimulatedBackend({ protocol: generic, ip: '127.0.14.2', ports: [24950], role: 'primary' });
      await backend.start();
      try {
        const db = join(dir, 'rec.duckdb');
        const record = spawnParity(['record', '--tap', '127.0.14.1:24950=127.0.14.2:24950', '--capture', 'tapped', '--max-packets', '20', '--db', db, '--json']);
        expect(await record.waitForOutput((_out, err) => err.includes('recording through'))).toBe(true);
        const client = await UdpClient.open();
        for (let i = 0; i < 10; i++) {
          await client.send(Buffer.from(`hello ${i}`), 24950, '127.0.14.1');
          await client.waitForReplies(i + 1);
        }
        await client.close();
        expect(await record.exited).toBe(0);
        expect(JSON.parse(record.stdout())).toMatchObject({ recorded: 20, unrecorded: 0, stoppedBy: 'max-packets' });
        const listed = await runParity(['captures', 'tapped', '--db', db, '--json']);
        expect(JSON.parse(listed.stdout)).toMatchObject([{ name: 'tapped', format: 'tap', keptDatagrams: 20, routePorts: [24950] }]);
      } finally {
        await backend.stop();
      }
    });
  });

  it.each([
    { args: ['record', '--tap', '127.0.14.1:24951=127.0.14.2:24951'], message: /one of --capture NAME and --run NAME/ },
    { args: ['record', '--tap', 'nonsense', '--run', 'x'], message: /--tap "nonsense" is not LISTEN=TARGET/ },
    { args: ['record', '--iface', 'lo', '--run', 'x'], message: /--iface needs --topology FILE/ },
    { args: ['record', '--tap', '127.0.14.1:24952=127.0.14.2:24952', '--run', 'x', '--leg', 'sideways'], message: /--leg "sideways" is not device>relay or relay>BACKEND/ },
  ])('refuses bad usage with one line and exit 2: $args', async ({ args, message }) => {
    const run = await runParity(args);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });
});
