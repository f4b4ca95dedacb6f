import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPgBin } from '../../src/backends/pg/pg-cluster.ts';
import { childrenOf, commandLine, groupMembers, processes } from '../helpers/process-state.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { tcpdumpUsable } from '../helpers/tcpdump.ts';
import { killAllParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

const SCENARIOS = join(import.meta.dirname, '../../fixtures/scenarios');
const canCapture = requirePrerequisite(tcpdumpUsable(), 'tcpdump run as root, for a live capture on loopback');
const pgReady = requirePrerequisite(findPgBin() !== undefined, "Debian's postgresql package (initdb, pg_ctl)");

/**
 * The PostgreSQL servers running now that a parity run started, each with its data directory (parity-pg-*), read
 * from one look at its command line. Only a server started to listen counts: pg_ctl's own short-lived
 * `postgres -D DIR -C ...` checks, gone by the time they would be read again, do not.
 */
function pgServers(): Map<number, string> {
  const servers = new Map<number, string>();
  for (const pid of processes()) {
    const dataDir = /\/postgres -D (\S*parity-pg-\S*) -c listen_addresses=/.exec(commandLine(pid))?.[1];
    if (dataDir !== undefined) servers.set(pid, dataDir);
  }
  return servers;
}

afterEach(killAllParity);

describe('a parity run killed outright', () => {
  it('leaves none of the processes it started behind: the reference relay ends with it', async () => {
    await withTempDir(async (dir) => {
      // The go scenario at its capture's own pace: the run is still replaying when it is killed.
      const file = join(dir, 'killed.yaml');
      writeFileSync(
        file,
        readFileSync(join(SCENARIOS, 'go.yaml'), 'utf8')
          .replace('name: go', 'name: killed')
          .replace('../fleet-calamp.pcap', join(SCENARIOS, '../fleet-calamp.pcap'))
          .replace('speed: 120x', 'speed: 1x'),
      );
      const run = spawnParity(['run', file, '--db', join(dir, 'run.duckdb'), '--out', join(dir, 'reports')]);
      const pid = run.child.pid as number;
      // Each process a run starts leads a group of its own (pgid = its pid): a signal to parity's group misses it.
      const groups = (): number[] => childrenOf(pid).filter((child) => groupMembers(child).includes(child));
      const started = (what: string): boolean => groups().some((child) => commandLine(child).includes(what));
      // Killed once it replays: the relay is past its start-up lines then, and writes nothing a dead reader would end it on.
      expect(await run.waitForOutput((_, stderr) => stderr.includes('replaying'), 60_000), run.stderr()).toBe(true);
      expect(started(' relay --routes '), run.stderr()).toBe(true);
      const leaders = groups();
      const relayFiles = leaders.map((child) => / --routes (\S+)\/routes\.json /.exec(commandLine(child))?.[1]).find((dir) => dir !== undefined);

      // SIGKILL: no exit hook runs in parity, as when a CI job's timeout or the kernel's OOM killer ends it.
      await run.stop('SIGKILL');
      await waitFor(() => leaders.every((group) => groupMembers(group).length === 0), 'every process the run started to end', 10_000);
      // And the relay's files (its routes and config, in a directory of the run's own) removed, as a stop would have.
      expect(relayFiles).toBeDefined();
      await waitFor(() => !existsSync(relayFiles as string), 'the relay files to be removed', 5_000);
    });
  }, 90_000);

  it.runIf(pgReady)('leaves no PostgreSQL server behind, though pg_ctl starts each in a session of its own', async () => {
    await withTempDir(async (dir) => {
      const before = new Set(pgServers().keys());
      const run = spawnParity(['demo', '--pg', '--db', join(dir, 'pg.duckdb'), '--out', join(dir, 'reports')]);
      const started = (): [number, string][] => [...pgServers()].filter(([pid]) => !before.has(pid));
      // The demo's primary and mirror databases.
      // Read once, when it holds: the demo stops its calibration runs' servers itself, so a second look may find fewer.
      let found: [number, string][] = [];
      await waitFor(() => (found = started()).length >= 2 || run.child.exitCode !== null, 'the demo to start its databases', 60_000);
      expect(found.length, run.stderr()).toBeGreaterThanOrEqual(2);
      const servers = found.map(([pid]) => pid);
      const dataDirs = found.map(([, dataDir]) => dataDir);
      await run.stop('SIGKILL');
      await waitFor(() => servers.every((pid) => groupMembers(pid).length === 0), 'every PostgreSQL server the demo started to end', 15_000);
      // And their data directories removed, as a stop would have.
      await waitFor(() => dataDirs.every((dataDir) => !existsSync(dataDir)), 'their data directories to be removed', 5_000);
    });
  }, 90_000);

  it.runIf(canCapture)('leaves no tcpdump capturing: parity record --iface killed on a quiet interface', async () => {
    await withTempDir(async (dir) => {
      // A filter nothing on this machine matches: tcpdump never writes, so nothing but the reaper ends it.
      writeFileSync(join(dir, 'topology.yaml'), 'relay: { ip: 127.0.94.1, ports: [24994] }\nbackends: { primary: 127.0.94.2, mirror: 127.0.94.3 }\n');
      const run = spawnParity(['record', '--iface', 'lo', '--filter', 'udp and host 127.0.94.1 and port 24994', '--topology', join(dir, 'topology.yaml'), '--run', 'quiet', '--db', join(dir, 'r.duckdb')]);
      const pid = run.child.pid as number;
      const tcpdumps = (): number[] => childrenOf(pid).filter((child) => commandLine(child).startsWith('tcpdump '));
      await waitFor(() => tcpdumps().length > 0 || run.child.exitCode !== null, 'the recording to start tcpdump', 30_000);
      expect(await run.waitForOutput((_, stderr) => /recording|capturing|listening/i.test(stderr), 15_000), run.stderr()).toBe(true);
      const [tcpdump] = tcpdumps();
      expect(tcpdump, run.stderr()).toBeDefined();
      await run.stop('SIGKILL');
      await waitFor(() => commandLine(tcpdump as number) === '', 'tcpdump to end', 10_000);
    });
  }, 60_000);
});
