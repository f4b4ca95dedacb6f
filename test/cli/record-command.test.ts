import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedBackend } from '../../src/backends/simulated-backend.ts';
import { generic } from '../../src/protocols/generic.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { processState } from '../helpers/process-state.ts';

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

  it.skipIf(process.platform !== 'linux')('counts what the kernel dropped at the tap\'s socket as unrecorded, and fails', async () => {
    await withTempDir(async (dir) => {
      const target = createSocket('udp4');
      await new Promise<void>((resolve) => target.bind(24953, '127.0.14.4', () => resolve()));
      const sender = createSocket('udp4');
      try {
        const db = join(dir, 'rec.duckdb');
        const record = spawnParity(['record', '--tap', '127.0.14.3:24953=127.0.14.4:24953', '--capture', 'dropped', '--db', db, '--json']);
        expect(await record.waitForOutput((_out, err) => err.includes('recording through'))).toBe(true);
        // The recorder stopped (SIGSTOP) while 12 MB arrive at its tap: more than the tap's receive buffer holds.
        const pid = record.child.pid as number;
        process.kill(pid, 'SIGSTOP');
        await waitFor(() => processState(pid) === 'T', 'the recorder to stop', 5_000);
        const datagrams = 200;
        try {
          for (let i = 0; i < datagrams; i++) await new Promise<void>((resolve, reject) => sender.send(Buffer.alloc(60_000, i), 24953, '127.0.14.3', (e) => (e ? reject(e) : resolve())));
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
        await record.stop('SIGINT');
        const result = JSON.parse(record.stdout()) as { recorded: number; unrecorded: number; kernelDrops: number };
        // Every datagram sent is either recorded or counted as unrecorded, none lost unaccounted.
        expect(result.kernelDrops).toBeGreaterThan(0);
        expect(result.recorded + result.unrecorded).toBe(datagrams);
        expect(record.child.exitCode).toBe(1);
        const listed = await runParity(['captures', 'dropped', '--db', db, '--json']);
        expect(listed.stdout).toMatch(/were dropped by the kernel before they could be read/);
      } finally {
        sender.close();
        target.close();
      }
    });
  }, 60_000);

  it.each([
    { args: ['record', '--tap', '127.0.14.1:24951=127.0.14.2:24951'], message: /one of --capture NAME and --run NAME/ },
    { args: ['record', '--tap', 'nonsense', '--run', 'x'], message: /--tap "nonsense" is not LISTEN=TARGET/ },
    { args: ['record', '--iface', 'lo', '--run', 'x'], message: /--iface needs --topology FILE/ },
    { args: ['record', '--tap', '127.0.14.1:24952=127.0.14.2:24952', '--run', 'x', '--leg', 'sideways'], message: /--leg "sideways" is not device>relay or relay>BACKEND/ },
    // A flag this kind of recording would not read, refused by name rather than left to do nothing.
    { args: ['record', '--tap', '127.0.14.1:24953=127.0.14.2:24953', '--iface', 'lo', '--topology', 't.yaml', '--run', 'x'], message: /^parity: --tap and --iface: a recording listens through taps or captures an interface, not both/ },
    { args: ['record', '--iface', 'lo', '--topology', 't.yaml', '--run', 'x', '--leg', 'relay>mirror'], message: /^parity: --leg applies to taps \(--tap\)/ },
    { args: ['record', '--tap', '127.0.14.1:24954=127.0.14.2:24954', '--run', 'x', '--filter', 'udp port 1'], message: /^parity: --filter applies to a live capture \(--iface\)/ },
    { args: ['record', '--tap', '127.0.14.1:24955=127.0.14.2:24955', '--run', 'x', '--topology', 't.yaml'], message: /^parity: --topology applies to a live capture/ },
    { args: ['record', '--tap', '127.0.14.1:24956=127.0.14.2:24956', '--capture', 'x', '--leg', 'relay>primary'], message: /^parity: --leg applies to a run \(--run\)/ },
    { args: ['record', '--tap', '127.0.14.1:24957=127.0.14.2:24957', '--capture', 'x', '--protocol', 'generic'], message: /^parity: --protocol applies to a run \(--run\)/ },
    { args: ['record', '--tap', '127.0.14.1:24958=127.0.14.2:24958', '--capture', 'x', '--commit-every', '0'], message: /^parity: --commit-every 0ms is too short: 10ms at least/ },
    { args: ['record', '--tap', '127.0.14.1:24959=127.0.14.2:24959', '--capture', 'x', '--commit-every', '10'], message: /"10" has no unit: write 10ms or 10s/ },
  ])('refuses bad usage with one line and exit 2: $args', async ({ args, message }) => {
    const run = await runParity(args);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
  });
});
