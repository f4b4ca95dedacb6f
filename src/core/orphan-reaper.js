// The process that ends what a `parity` process started when it cannot do so itself (SIGKILL, a CI job's timeout, an
// out-of-memory kill). The processes a scenario starts each run in a group of their own, and PostgreSQL's servers in a
// session of their own, so a signal to parity's group misses them; this one is told of each as it starts and ends, on
// its standard input, and when that input closes (parity gone, however it went) it ends every one still listed.
//
// Plain JavaScript with nothing imported from the project: it is started with `node` alone, at once, and must keep
// running whatever state the TypeScript side was left in.
//
// Lines on standard input:
//   +group PGID    a process group started; -group PGID  it ended
//   +pgdata DIR    a PostgreSQL data directory a server is being started in; -pgdata DIR  stopped and removed
//   +dir DIR       a directory of the run's own files (a relay's routes); -dir DIR  removed by the run
// A data directory is named before its server starts, so a kill while pg_ctl waits for it still finds the server
// (postmaster.pid's first line, the leader of the server's session), and the directory is removed after it.

import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

const groups = new Set();
const dataDirs = new Set();
const dirs = new Set();

// Its own session already (spawned detached): no terminal's Ctrl-C or hang-up reaches it, and a signal sent to
// parity's group on purpose is for parity, whose own stop then does the work; this one only waits for its input.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => undefined);

/** @param {number} pgid */
function killGroup(pgid) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** @param {string} dataDir @returns {number | undefined} */
function serverOf(dataDir) {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const space = line.indexOf(' ');
  const [verb, what] = [line.slice(0, space), line.slice(space + 1)];
  if (verb === '+group' || verb === '-group') {
    const pgid = Number(what);
    if (!Number.isInteger(pgid) || pgid <= 1) return;
    if (verb === '+group') groups.add(pgid);
    else groups.delete(pgid);
  } else if (verb === '+pgdata' && what.startsWith('/')) dataDirs.add(what);
  else if (verb === '-pgdata') dataDirs.delete(what);
  else if (verb === '+dir' && what.startsWith('/')) dirs.add(what);
  else if (verb === '-dir') dirs.delete(what);
});
lines.on('close', () => {
  for (const pgid of groups) killGroup(pgid);
  // A server may still be starting (pg_ctl forked it before it was killed above): its files are removed under it,
  // which ends its start, and one that wrote its postmaster.pid in the meantime is killed in the next round.
  for (let round = 0; round < 3 && dataDirs.size > 0; round++) {
    for (const dataDir of dataDirs) {
      const server = serverOf(dataDir);
      if (server !== undefined) killGroup(server);
      try {
        rmSync(dataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
        dataDirs.delete(dataDir);
      } catch {
        // A file written into it while it was removed: another round.
      }
    }
  }
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
    } catch {
      // Left for the system's own cleaning of its temporary files: nothing there holds a port.
    }
  }
  // eslint-disable-next-line no-restricted-properties -- a process of its own, with nothing left to wait for
  process.exit(0);
});
