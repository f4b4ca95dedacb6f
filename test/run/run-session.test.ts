import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunSession } from '../../src/run/run-session.ts';
import { getRun } from '../../src/store/runs.ts';
import { withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

const counts = { planned: 10, sent: 7, sendErrors: 0, sendErrorsByKind: {}, acks: 7, askedRatePps: null, achievedRatePps: 140, lateness: { p50Us: 12, p99Us: 80, maxUs: 95 } };

describe('RunSession (real DuckDB store)', () => {
  it('stops what was started in reverse order, all of it even when one stop fails, and writes the end only after', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'r.duckdb'), async (store) => {
        const session = await RunSession.create(store, { name: 'lifecycle', kind: 'replay', protocol: 'generic' });
        const stopped: string[] = [];
        const statusWhenStopped: string[] = [];
        for (const what of ['backends', 'relay', 'poller']) {
          session.defer(what, async () => {
            stopped.push(what);
            statusWhenStopped.push((await getRun(store, 'lifecycle')).status);
            if (what === 'relay') throw new Error('relay would not stop');
          });
        }
        await expect(session.finish('completed', counts)).rejects.toThrow(/relay would not stop/);
        expect(stopped).toEqual(['poller', 'relay', 'backends']);
        // While anything of it still ran, the run was running, never completed.
        expect(statusWhenStopped).toEqual(['running', 'running', 'running']);
        // Something that would not stop may still be running: the run did not complete.
        expect((await getRun(store, 'lifecycle')).status).toBe('failed');
      });
    });
  });

  it('a failure stops everything and leaves the run failed, raising the error that ended it', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'r.duckdb'), async (store) => {
        const session = await RunSession.create(store, { name: 'broken', kind: 'scenario', protocol: 'generic' });
        let released = false;
        session.defer('device sockets', () => {
          released = true;
        });
        await expect(session.fail(new Error('relay exited (code 3)'))).rejects.toThrow('relay exited (code 3)');
        expect(released).toBe(true);
        expect((await getRun(store, 'broken')).status).toBe('failed');
      });
    });
  });

  it('finish records the status, the counts and the run\'s clock origin', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'r.duckdb'), async (store) => {
        const session = await RunSession.create(store, { name: 'done', kind: 'replay', protocol: 'generic' });
        await session.finish('interrupted', counts, 123_456_789n);
        const run = await getRun(store, 'done');
        expect(run).toMatchObject({ status: 'interrupted', startedNs: 123_456_789n, stats: { ...counts, observers: [] }, recording: null, plan: null });
        expect(run.endedNs).not.toBeNull();
      });
    });
  });

  it('the store works on one DuckDB thread while any session records, and gets its threads back when the last ends, finished or failed', async () => {
    await withTempDir(async (dir) => {
      await withStore(join(dir, 'r.duckdb'), async (store) => {
        const threads = async (): Promise<number> => Number((await store.query("SELECT current_setting('threads')::INTEGER AS n"))[0]?.n);
        // Whatever the machine's cores, a number of threads that is not one, to see it come back.
        await store.exec('SET threads = 3');
        const scenario = await RunSession.create(store, { name: 'outer', kind: 'scenario', protocol: 'generic' });
        expect(await threads()).toBe(1);
        // A replay inside a scenario takes over its run: a second session over the same store.
        const replay = await RunSession.adopt(store, { runId: scenario.runId, name: 'outer' }, { protocol: 'generic' });
        await replay.finish('completed', counts);
        expect(await threads()).toBe(1);
        await scenario.finish('completed', counts);
        expect(await threads()).toBe(3);
        const broken = await RunSession.create(store, { name: 'broken', kind: 'replay', protocol: 'generic' });
        expect(await threads()).toBe(1);
        await expect(broken.fail(new Error('relay exited'))).rejects.toThrow('relay exited');
        expect(await threads()).toBe(3);
      });
    });
  });
});
