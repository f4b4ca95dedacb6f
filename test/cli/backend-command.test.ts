import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCalampMessage, calampLmd } from '../../src/protocols/calamp-lmd.ts';
import { withStore } from '../../src/store/store.ts';
import { killAllParity, runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';

describe('parity backend (subprocess)', () => {
  afterEach(killAllParity);

  it('answers ACKs with the set app version, records its legs, and stops on SIGTERM with its counters', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'backend.duckdb');
      const backend = spawnParity(['backend', '--listen', '127.0.0.41:23001', '--ack-version', '1.2.3', '--db', db, '--run', 'b1', '--json']);
      await backend.waitForOutput((_out, err) => err.includes('listening'));
      expect(backend.stderr()).toContain('listening on 127.0.0.41:23001');
      const client = await UdpClient.open();
      for (let sequence = 0; sequence < 5; sequence++) {
        await client.send(buildCalampMessage({ mobileId: '12345', serviceType: 1, messageType: 2, sequence, body: new Uint8Array(4) }), 23001, '127.0.0.41');
      }
      expect(await client.waitForReplies(5)).toBe(5);
      expect(calampLmd.decodeAck(client.replies[0]?.payload ?? Buffer.alloc(0)).fields.appVersion).toBe('1.2.3');
      await client.close();
      expect(await backend.stop('SIGTERM')).toBe(0);
      expect(JSON.parse(backend.stdout())).toMatchObject({ role: 'primary', counters: { received: 5, acked: 5 } });
      await withStore(db, async (store) => {
        const rows = await store.query("SELECT leg, count(*) n FROM observations JOIN runs USING (run_id) WHERE name = 'b1' GROUP BY leg ORDER BY leg");
        expect(rows).toEqual([
          { leg: 'primary>relay', n: 5n },
          { leg: 'relay>primary', n: 5n },
        ]);
      });
    });
  });

  it('refuses --run without --db, in one line, before listening: without a store it would name nothing', async () => {
    const run = await runParity(['backend', '--listen', '127.0.14.9:24990', '--run', 'nightly-1', '--duration', '1s']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('parity: --run names the run the observations are recorded under: give --db FILE with it');
  });
});
