import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HOLD_MS } from '../../src/observe/released-store-sink.ts';
import { killAllParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

afterEach(killAllParity);

/**
 * Another process's look at the store, as `parity analyse --observations` takes it: 'held' while the backend has the
 * file, else how many observations it holds. A plain DuckDB client, so nothing of ours decides what it sees.
 */
async function readFromAnotherProcess(db: string): Promise<'held' | number> {
  const script = `
    import { DuckDBInstance } from '@duckdb/node-api';
    try {
      const instance = await DuckDBInstance.create(${JSON.stringify(db)}, { access_mode: 'READ_ONLY' });
      const connection = await instance.connect();
      const reader = await connection.runAndReadAll('SELECT count(*)::INTEGER FROM observations');
      console.log(String(reader.getRows()[0][0]));
    } catch (error) {
      console.log(/lock/i.test(String(error)) ? 'held' : 'error ' + String(error));
    }`;
  // Not spawnSync: the traffic comes from this process's event loop, and must not pause while the reader looks.
  const out = (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..'), timeout: 20_000 })).stdout.trim();
  if (out === 'held') return 'held';
  if (!/^\d+$/.test(out)) throw new Error(`reader: ${out}`);
  return Number(out);
}

describe("a backend's released store (subprocess, real DuckDB files)", () => {
  it('stays held across commits while traffic flows, is let go at least every HOLD_MS for a reader, and holds every observation once traffic pauses', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'primary.duckdb');
      const backend = spawnParity(['backend', '--listen', '127.0.74.2:18180', '--role', 'primary', '--protocol', 'generic', '--db', db, '--run', 'held']);
      expect(await backend.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      const device = await UdpClient.open('127.0.74.10');
      let sent = 0;
      const looks: ('held' | number)[] = [];
      // Steady traffic (200 packets a second) for a little over 1.5 times HOLD_MS, looking at the store meanwhile.
      const until = Date.now() + HOLD_MS * 1.6;
      const traffic = (async () => {
        while (Date.now() < until && sent < 5_000) {
          await device.send(Buffer.from(`request ${sent++}`), 18180, '127.0.74.2');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      while (Date.now() < until - 300) looks.push(await readFromAnotherProcess(db));
      await traffic;
      expect(await device.waitForReplies(sent)).toBe(sent);
      // Held across commits: a reader is refused while traffic flows...
      expect(looks).toContain('held');
      // ...but not for long: the file is let go within HOLD_MS, and what it holds then was committed.
      const counts = looks.filter((look): look is number => look !== 'held');
      expect(counts.length).toBeGreaterThan(0);
      expect(Math.max(...counts)).toBeGreaterThan(0);
      // Traffic paused: released within moments, every request and answer in it.
      let last: 'held' | number = 'held';
      await waitFor(async () => (last = await readFromAnotherProcess(db)) === 2 * sent, `all ${2 * sent} observations readable (last look: ${last})`);
      await device.close();
    });
  }, 60_000);
});
