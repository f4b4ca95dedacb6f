import { execFile } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { HOLD_MS, RELEASE_INTERVAL_MS } from '../../src/observe/released-store-sink.ts';
import { killAllParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';

afterEach(killAllParity);

/** Whether process `pid` has `file` open at this moment (its descriptors, from /proc). */
function holdsFile(pid: number, file: string): boolean {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * Another process's look at the store, as `parity analyse --observations` takes it: it tries every 50 ms for up to
 * `waitMs` and says how many observations the store held when it got it, or 'held' if it never did. A plain DuckDB
 * client, so nothing of ours decides what it sees.
 */
async function readFromAnotherProcess(db: string, waitMs: number): Promise<'held' | number> {
  const script = `
    import { DuckDBInstance } from '@duckdb/node-api';
    const deadline = Date.now() + ${waitMs};
    for (;;) {
      try {
        const instance = await DuckDBInstance.create(${JSON.stringify(db)}, { access_mode: 'READ_ONLY' });
        const connection = await instance.connect();
        const reader = await connection.runAndReadAll('SELECT count(*)::INTEGER FROM observations');
        console.log(String(reader.getRows()[0][0]));
        break;
      } catch (error) {
        if (!/lock/i.test(String(error))) { console.log('error ' + String(error)); break; }
        if (Date.now() > deadline) { console.log('held'); break; }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }`;
  // Not spawnSync: the traffic comes from this process's event loop, and must not pause while the reader looks.
  const out = (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..'), timeout: waitMs + 30_000 })).stdout.trim();
  if (out === 'held') return 'held';
  if (!/^\d+$/.test(out)) throw new Error(`reader: ${out}`);
  return Number(out);
}

describe("a backend's released store (subprocess, real DuckDB files)", () => {
  it('is held across commits while traffic flows, let go within HOLD_MS for a reader, and holds every observation once traffic pauses', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'primary.duckdb');
      const backend = spawnParity(['backend', '--listen', '127.0.74.2:18180', '--role', 'primary', '--protocol', 'generic', '--db', db, '--run', 'held']);
      expect(await backend.waitForOutput((_out, err) => err.includes('listening'))).toBe(true);
      const pid = backend.child.pid as number;
      const device = await UdpClient.open('127.0.74.10');
      let sent = 0;
      // Steady traffic (about 200 packets a second) for twice HOLD_MS; meanwhile, whether the backend holds its file,
      // every 25 ms, and a reader that waits for it as a merge does.
      const until = Date.now() + HOLD_MS * 2;
      const traffic = (async () => {
        while (Date.now() < until && sent < 10_000) {
          await device.send(Buffer.from(`request ${sent++}`), 18180, '127.0.74.2');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const samples: { atMs: number; held: boolean }[] = [];
      const sampling = (async () => {
        while (Date.now() < until) {
          samples.push({ atMs: Date.now(), held: holdsFile(pid, db) });
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, HOLD_MS / 2));
      const look = await readFromAnotherProcess(db, 10_000);
      await Promise.all([traffic, sampling]);
      expect(await device.waitForReplies(sent)).toBe(sent);

      // Held across commits: one stretch of holding outlasts two commit intervals...
      let longestMs = 0;
      let since: number | undefined;
      for (const { atMs, held } of samples) {
        if (held) since ??= atMs;
        else since = undefined;
        if (since !== undefined) longestMs = Math.max(longestMs, atMs - since);
      }
      expect(longestMs).toBeGreaterThanOrEqual(2 * RELEASE_INTERVAL_MS);
      // ...and is let go while traffic still flows, so a reader waiting as a merge does gets it, with what was committed.
      const firstHeld = samples.findIndex((s) => s.held);
      expect(samples.slice(firstHeld).some((s) => !s.held)).toBe(true);
      expect(look).not.toBe('held');
      expect(look).toBeGreaterThan(0);
      // Traffic paused: released within moments, every request and answer in it.
      let last: 'held' | number = 'held';
      await waitFor(async () => (last = await readFromAnotherProcess(db, 0)) === 2 * sent, `all ${2 * sent} observations readable (last look: ${last})`);
      await device.close();
    });
  }, 90_000);
});
