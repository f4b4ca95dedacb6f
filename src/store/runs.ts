import { StoreLookupError } from '../core/errors.ts';
import type { HarnessLag } from '../run/harness-lag.ts';
import { checkName } from '../core/names.ts';
import { wallClockOffsetNs } from '../core/clock.ts';
import { isJsonObject, type JsonValue } from '../core/json.ts';
import { ownerAlive, ownerOf, thisProcess } from './owner.ts';
import { readPlan, readRecordingStats, readReplayStats, readTopology, type RecordingStats, type RunTopology, type StoredPlan, type StoredReplayStats, type WrittenRunStats } from './run-metadata.ts';
import { loadSql } from './sql-file.ts';
import { num, str, type Row, type Store } from './store.ts';

const CREATE_RUN_SQL = loadSql(import.meta.url, './sql/create-run.sql');
const UPDATE_RUN_SQL = loadSql(import.meta.url, './sql/update-run.sql');
const FINISH_RUN_SQL = loadSql(import.meta.url, './sql/finish-run.sql');
const LIST_RUNS_SQL = loadSql(import.meta.url, './sql/list-runs.sql');
const HARNESS_LAG_SQL = loadSql(import.meta.url, './sql/harness-lag.sql');

export type RunKind = 'replay' | 'record' | 'scenario';
/**
 * A run is `running` while its owner works on it, then `completed`, `interrupted` (Ctrl-C) or `failed`. A run still
 * marked running whose owner process is gone from this host was killed: every reader sees it as `abandoned`.
 */
export type RunStatus = 'running' | 'completed' | 'interrupted' | 'failed' | 'abandoned';

export interface RunRecord {
  runId: number;
  name: string;
  kind: RunKind;
  captureId: number | null;
  protocol: string;
  relay: string | null;
  status: RunStatus;
  startedNs: bigint | null;
  endedNs: bigint | null;
  plan: StoredPlan | null;
  topology: RunTopology;
  /** As the run stored them; the analysis revives them into its threshold config. */
  thresholds: JsonValue;
  /** A replay's counts (with its taps' counters), or null. */
  stats: StoredReplayStats | null;
  recording: RecordingStats | null;
  startedAt: string;
  /** The process that owns (or owned) the run, to tell a run in progress from an abandoned one. */
  owner: { pid: number; host: string } | null;
  /** How late the harness's event loop ran while it timestamped the run's legs; null when not measured. */
  harnessLag: HarnessLag | null;
}

export interface NewRun {
  name: string;
  kind: RunKind;
  captureId?: number;
  protocol: string;
  relay?: string;
  plan?: StoredPlan | undefined;
  topology?: RunTopology | undefined;
  /** A threshold config, stored as JSON. */
  thresholds?: object | undefined;
  startedNs?: bigint;
}

/** Registers a run; a name already used is refused (runs are never overwritten). */
export async function createRun(store: Store, run: NewRun): Promise<number> {
  checkName(run.name, 'run name');
  const owner = thisProcess();
  const existing = await store.query('SELECT 1 FROM runs WHERE name = $name', { name: run.name });
  if (existing.length > 0) {
    throw new StoreLookupError(`run "${run.name}" is already in ${store.path}; choose another --run name`, { field: 'run' });
  }
  const rows = await store.query(
    CREATE_RUN_SQL,
    {
      name: run.name,
      kind: run.kind,
      capture_id: run.captureId ?? null,
      protocol: run.protocol,
      relay: run.relay ?? null,
      plan: jsonOrNull(run.plan),
      topology: jsonOrNull(run.topology),
      thresholds: jsonOrNull(run.thresholds),
      started_ns: run.startedNs ?? null,
      owner_pid: owner.pid,
      owner_host: owner.host,
      wall_offset_ns: wallClockOffsetNs(),
    },
  );
  return num(rows[0]?.run_id);
}

/**
 * Writes a run's end; `startedNs`, when given, is its clock's origin as the work measured it (a replay's first send).
 * `stats` joins what others recorded of the run before it ended (a scenario's taps and simulated backends, written at
 * its drain: recordObserverCounters), key by key: it replaced them, and the analysis then never saw what a tap dropped
 * or failed to send.
 */
export async function finishRun(store: Store, runId: number, status: RunStatus, endedNs: bigint, stats?: WrittenRunStats, startedNs?: bigint): Promise<void> {
  let written: Record<string, unknown> | undefined;
  if (stats !== undefined) {
    const [row] = await store.query('SELECT stats::VARCHAR AS stats FROM runs WHERE run_id = $id', { id: runId });
    const earlier = parseJson(row?.stats);
    written = { ...(isJsonObject(earlier) ? earlier : {}), ...stats };
  }
  await store.exec(FINISH_RUN_SQL, { id: runId, status, ended_ns: endedNs, stats: jsonOrNull(written), started_ns: startedNs ?? null });
}

/** What an observer of a run (a tap in front of a backend) counted: stored with the run's stats, judged by the analysis. */
export interface ObserverCounters {
  observer: string;
  backend: string;
  forwarded: number;
  replies: number;
  strayReplies: number;
  errors: Record<string, number>;
  /** Datagrams dropped on arrival at the observer's own sockets (a tap's receive buffers full); null: not seen. */
  receiveDrops?: number | null;
  /** Of receiveDrops, those of the backend's answers (the rest were packets for it); null or absent: not told apart. */
  replyDrops?: number | null;
}

/**
 * Adds the observers' counters to a run's stats, and what the kernel dropped at the simulated backends' sockets (by
 * role; see SimulatedBackend.receiveDrops).
 */
export async function recordObserverCounters(store: Store, runId: number, observers: readonly ObserverCounters[], backendDrops: Readonly<Record<string, number>> = {}): Promise<void> {
  const patch = { ...(observers.length > 0 && { observers }), ...(Object.keys(backendDrops).length > 0 && { backendDrops }) };
  if (Object.keys(patch).length === 0) return;
  await store.exec(`UPDATE runs SET stats = json_merge_patch(coalesce(stats, '{}'::JSON), $patch::JSON) WHERE run_id = $id`, { id: runId, patch: JSON.stringify(patch) });
}

/** Sets what a run replays, for a run created before its replay started (a scenario's); its kind stays. */
export async function updateRun(store: Store, runId: number, run: Omit<NewRun, 'name' | 'kind'>): Promise<void> {
  await store.exec(
    UPDATE_RUN_SQL,
    {
      id: runId,
      capture_id: run.captureId ?? null,
      protocol: run.protocol,
      relay: run.relay ?? null,
      plan: jsonOrNull(run.plan),
      topology: jsonOrNull(run.topology),
      thresholds: jsonOrNull(run.thresholds),
    },
  );
}

export async function listRuns(store: Store, name?: string): Promise<RunRecord[]> {
  const rows = await store.query(
    LIST_RUNS_SQL,
    { name: name ?? null },
  );
  return rows.map(runFromRow);
}

/** The named run, or a lookup error that lists what the store holds. */
export async function getRun(store: Store, name: string): Promise<RunRecord> {
  const [run] = await listRuns(store, name);
  if (run !== undefined) return run;
  const known = (await listRuns(store)).map((r) => r.name);
  const hint = known.length > 0 ? `runs in it: ${known.slice(-10).join(', ')}` : 'it holds no runs yet';
  throw new StoreLookupError(`run "${name}" is not in ${store.path} (${hint})`, { field: 'run' });
}

/** The name of the next run: `<prefix>-<n>`, first free. */
export async function nextRunName(store: Store, prefix: string): Promise<string> {
  const rows = await store.query("SELECT name FROM runs WHERE name LIKE $pattern", { pattern: `${prefix}-%` });
  const used = new Set(rows.map((row) => str(row.name)));
  for (let n = 1; ; n++) if (!used.has(`${prefix}-${n}`)) return `${prefix}-${n}`;
}

function jsonOrNull(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? Number(item) : item));
}

function parseJson(value: Row[string] | undefined): JsonValue {
  return typeof value === 'string' ? (JSON.parse(value) as JsonValue) : null;
}

function statusOf(stored: RunStatus, owner: RunRecord['owner']): RunStatus {
  if (stored !== 'running' || owner === null) return stored;
  return ownerAlive(owner) ? 'running' : 'abandoned';
}

/** A runs row's status as readers see it: one marked running whose process is gone from this host is abandoned. */
export function statusOfRow(row: Row): RunStatus {
  return statusOf(str(row.status) as RunStatus, ownerOf(row));
}

/** A run as `list-runs.sql` (or an exported runs.parquet read the same way) gives its row. */
export function runFromRow(row: Row): RunRecord {
  const owner = ownerOf(row);
  const stats = parseJson(row.stats);
  return {
    runId: num(row.run_id),
    name: str(row.name),
    kind: str(row.kind) as RunKind,
    captureId: row.capture_id === null ? null : num(row.capture_id),
    protocol: str(row.protocol),
    relay: row.relay === null ? null : str(row.relay),
    status: statusOfRow(row),
    startedNs: typeof row.started_ns === 'bigint' ? row.started_ns : null,
    endedNs: typeof row.ended_ns === 'bigint' ? row.ended_ns : null,
    plan: readPlan(parseJson(row.plan)),
    topology: readTopology(parseJson(row.topology)),
    thresholds: parseJson(row.thresholds),
    stats: readReplayStats(stats),
    recording: readRecordingStats(stats),
    startedAt: str(row.started_at),
    owner,
    harnessLag: harnessLagOf(row),
  };
}

/** A runs row's harness lag, or null where it was not measured (or the row, from an older store, has no such columns). */
export function harnessLagOf(row: Row): HarnessLag | null {
  const [p99Ms, maxMs] = [row.harness_lag_p99_ms, row.harness_lag_max_ms];
  return typeof p99Ms === 'number' && typeof maxMs === 'number' ? { p99Ms, maxMs } : null;
}

/** Records how late a process's event loop ran while it timestamped the run (the worst of every process is kept). */
export async function recordHarnessLag(store: Store, runId: number, lag: HarnessLag | null): Promise<void> {
  if (lag === null) return;
  await store.exec(HARNESS_LAG_SQL, { id: runId, p99_ms: lag.p99Ms, max_ms: lag.maxMs });
}

/** Replaces what a run says of its legs (e.g. backends declared by observation stores merged into it). */
export async function setRunTopology(store: Store, runId: number, topology: RunTopology): Promise<void> {
  await store.exec('UPDATE runs SET topology = $topology::JSON WHERE run_id = $id', { id: runId, topology: jsonOrNull(topology) });
}
