import { existsSync } from 'node:fs';
import { ConfigError } from '../core/errors.ts';
import { readRecordingStats, readReplayStats, readTopology, type RunTopology, type TopologyBackend } from '../store/run-metadata.ts';
import type { JsonValue } from '../core/json.ts';
import { getRun, harnessLagOf, recordHarnessLag, recordObserverCounters, setRunTopology, statusOfRow, type RunStatus } from '../store/runs.ts';
import { ownerOf, type Owner } from '../store/owner.ts';
import { isStoreLocked, storeLockedError } from '../store/store-lock.ts';
import { num, str, type Store } from '../store/store.ts';
import { waitForUncommitted } from './released-store-sink.ts';

/** How long a merge waits for a store whose writer is committing (writers hold it for a moment each second). */
const LOCK_WAIT_MS = 10_000;

export interface MergedStore {
  file: string;
  observations: number;
  /** Backends the store declares it watched (`parity backend` records its role), whether or not anything came. */
  declared: string[];
  /** Why the store's record is not whole (its recording's process died before closing it), or undefined. */
  unfinished: string | undefined;
}

/**
 * Brings into the store the observations other processes recorded in their own DuckDB files (`parity backend --db
 * mirror.duckdb --run NAME`): rows of the run of the same name. DuckDB lets one process write a file, so each process
 * writes its own and the analysis gathers them; `parity backend` releases its file between commits, so this works
 * while it runs. A store that declares a backend and holds nothing from it is a dead leg for the verdict, not an
 * error. Merging again replaces what an earlier merge brought from that file.
 */
export async function mergeObservations(store: Store, runName: string, files: readonly string[]): Promise<MergedStore[]> {
  const run = await getRun(store, runName);
  let topology = run.topology;
  const merged: MergedStore[] = [];
  // Every store is read as of this moment: what its writer had received by now is waited for, later traffic is not.
  const cutMs = Date.now();
  for (const [index, file] of files.entries()) {
    if (!existsSync(file)) throw new ConfigError(`${file}: no such observation store`, { file, field: 'observations' });
    const alias = `merge_${index}`;
    // A backend still recording commits what it has received before the store is read: late is not lost.
    await waitForUncommitted(file, cutMs, LOCK_WAIT_MS);
    await attachWaiting(store, file, alias);
    try {
      // Every column (a store of an earlier version lacks later ones): the other process's stamps come with its lateness.
      const [source] = await store.query(`SELECT * REPLACE (topology::VARCHAR AS topology, stats::VARCHAR AS stats) FROM ${alias}.runs WHERE name = $name`, { name: runName });
      if (source === undefined) throw new ConfigError(`${file}: holds no run "${runName}" (was it recorded with --run ${runName}?)`, { file, field: 'observations' });
      const sourceId = num(source.run_id);
      const declared = readTopology(typeof source.topology === 'string' ? JSON.parse(source.topology) : null).backends;
      await recordHarnessLag(store, run.runId, harnessLagOf(source));
      // What the kernel dropped at a `parity backend`'s sockets travels with its store's run.
      const sourceStats = typeof source.stats === 'string' ? (JSON.parse(source.stats) as JsonValue) : null;
      const written = readReplayStats(sourceStats);
      if (written?.backendDrops !== undefined) await recordObserverCounters(store, run.runId, [], written.backendDrops);
      // And what its store could not record (its queue full while the store fell behind): its record is not whole.
      const unrecorded = readRecordingStats(sourceStats)?.unrecorded ?? 0;
      const unfinished = unfinishedBecause(statusOfRow(source), ownerOf(source)) ?? unrecordedBecause(unrecorded);
      topology = withBackends(topology, declared, file, unfinished === undefined ? undefined : `${file}: ${unfinished}`, unrecorded);
      const observers = await store.query(`SELECT DISTINCT observer FROM ${alias}.observations WHERE run_id = $source`, { source: sourceId });
      for (const { observer } of observers) {
        await store.exec('DELETE FROM observations WHERE run_id = $run_id AND observer = $observer', { run_id: run.runId, observer: str(observer) });
      }
      await store.exec(
        // BY NAME: a store written by an earlier version may lack later columns; they merge as NULL.
        `INSERT INTO observations BY NAME SELECT $run_id AS run_id, o.* EXCLUDE (run_id) FROM ${alias}.observations o WHERE o.run_id = $source`,
        { run_id: run.runId, source: sourceId },
      );
      const [count] = await store.query(`SELECT count(*) AS n FROM ${alias}.observations WHERE run_id = $source`, { source: sourceId });
      merged.push({ file, observations: num(count?.n), declared: declared.map((b) => b.role), unfinished });
    } finally {
      await store.exec(`DETACH ${alias}`);
    }
  }
  await setRunTopology(store, run.runId, topology);
  return merged;
}

/**
 * The run's topology with the backends a merged store declares added (a role already known keeps its entry), each
 * marked unfinished or not as this merge of the store found it (a merge again after a clean close clears the mark).
 */
function withBackends(topology: RunTopology, declared: RunTopology['backends'], file: string, unfinished: string | undefined, unrecorded: number): RunTopology {
  const roles = new Set(declared.map((b) => b.role));
  const mark = (backend: TopologyBackend): TopologyBackend => {
    const { unfinished: _earlier, unrecorded: _before, ...rest } = backend;
    return { ...rest, ...(unfinished !== undefined && { unfinished }), ...(unrecorded > 0 && { unrecorded }) };
  };
  const known = new Set(topology.backends.map((b) => b.role));
  const kept = topology.backends.map((b) => (roles.has(b.role) ? mark(b) : b));
  const added = declared.filter((b) => !known.has(b.role)).map((b) => mark({ ...b, observation: 'simulated' as const, observed: `store ${file}` }));
  return { ...topology, backends: [...kept, ...added] };
}

/**
 * Why a store's record of its backends is not whole, if it is not: its process died without closing it, so what it had
 * received since its last commit (up to a second) is missing from the record, not from the backend's traffic.
 */
function unfinishedBecause(status: RunStatus, owner: Owner | null): string | undefined {
  if (status === 'running' || status === 'completed') return undefined;
  const who = owner === null ? 'its recording' : `its recording (pid ${owner.pid} on ${owner.host})`;
  return `${who} ${status === 'abandoned' ? 'died before it closed the store' : `ended ${status}`}, so what it received after its last commit is missing from the record`;
}

/** Why a store that ended cleanly is still not a whole record of its backends: what it could not record, if anything. */
function unrecordedBecause(unrecorded: number): string | undefined {
  if (unrecorded <= 0) return undefined;
  return `its recording could not record ${unrecorded.toLocaleString('en-US')} observations (its store fell behind), so they are missing from the record`;
}

async function attachWaiting(store: Store, file: string, alias: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await store.exec(`ATTACH '${file.replace(/'/g, "''")}' AS ${alias} (READ_ONLY)`);
      return;
    } catch (error) {
      if (!isStoreLocked(error)) throw error;
      if (Date.now() > deadline) throw storeLockedError(file, error instanceof Error ? error.message : String(error), error);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
