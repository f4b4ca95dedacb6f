import type { HarnessLag } from '../run/harness-lag.ts';
import type { RunRecord, RunStatus } from './runs.ts';
import { addExample, type NotAsRecorded, type RunTopology, type StoredReplayStats } from './run-metadata.ts';

/** One host's share of a run, as its export holds it, with the offset that puts its times on the wall clock. */
export interface RunPart {
  dir: string;
  run: RunRecord;
  /** The host's wall clock minus its monotonic clock; null for a store made before runs recorded it. */
  wallOffsetNs: bigint | null;
}

/** What the assembled run says of itself: the parts' metadata, merged so that the whole is judged as strictly as each. */
export interface MergedRun {
  status: RunStatus;
  startedNs: bigint | null;
  endedNs: bigint | null;
  topology: RunTopology;
  stats: StoredReplayStats | null;
  /** The laggiest part's: every part's stamps are judged within the worst, as one host's would be. */
  harnessLag: HarnessLag | null;
}

// A run is only as complete as its least complete part: one host killed mid-run leaves the whole run unproven.
const STATUS_ORDER: readonly RunStatus[] = ['failed', 'abandoned', 'interrupted', 'running', 'completed'];

export function mergeRunParts(parts: readonly RunPart[], offsetOf: (part: RunPart) => bigint): MergedRun {
  const shifted = (ns: bigint | null, part: RunPart): bigint | null => (ns === null ? null : ns + offsetOf(part));
  const starts = parts.map((p) => shifted(p.run.startedNs, p)).filter((ns): ns is bigint => ns !== null);
  const ends = parts.map((p) => shifted(p.run.endedNs, p)).filter((ns): ns is bigint => ns !== null);
  const worst = STATUS_ORDER.find((status) => parts.some((p) => p.run.status === status)) ?? 'failed';
  return {
    // A part another host still holds as running is not finished work: the assembly calls it abandoned.
    status: worst === 'running' ? 'abandoned' : worst,
    startedNs: starts.length === 0 ? null : starts.reduce((a, b) => (b < a ? b : a)),
    endedNs: ends.length === 0 || ends.length < parts.length ? null : ends.reduce((a, b) => (b > a ? b : a)),
    topology: mergeTopologies(parts.map((p) => p.run.topology)),
    // A recording's stats (a backend's observation store) count what it recorded, not what was sent.
    stats: mergeStats(parts.filter((p) => p.run.kind !== 'record').map((p) => p.run.stats)),
    harnessLag: worstLag(parts.map((p) => p.run.harnessLag)),
  };
}

function worstLag(lags: readonly (HarnessLag | null)[]): HarnessLag | null {
  const measured = lags.filter((lag): lag is HarnessLag => lag !== null);
  return measured.length === 0 ? null : { p99Ms: Math.max(...measured.map((l) => l.p99Ms)), maxMs: Math.max(...measured.map((l) => l.maxMs)) };
}

/** Every backend and route any part declares (the first part's entry of a role or port wins). */
function mergeTopologies(topologies: readonly RunTopology[]): RunTopology {
  const [first] = topologies;
  const backends = new Map<string, RunTopology['backends'][number]>();
  const routes = new Map<number, RunTopology['routes'][number]>();
  for (const topology of topologies) {
    for (const backend of topology.backends) if (!backends.has(backend.role)) backends.set(backend.role, backend);
    for (const route of topology.routes) if (!routes.has(route.port)) routes.set(route.port, route);
  }
  return { ...first, backends: [...backends.values()], routes: [...routes.values()].sort((a, b) => a.port - b.port) };
}

/**
 * Counts add up; rates add up (the hosts sent side by side); lateness takes the worst part's figure for each
 * percentile, a bound the whole cannot exceed (no more than 1% of any part is later than its p99, so no more than 1%
 * of the whole is later than the largest p99).
 */
function mergeStats(all: readonly (StoredReplayStats | null)[]): StoredReplayStats | null {
  const stats = all.filter((s): s is StoredReplayStats => s !== null);
  if (stats.length === 0) return null;
  const sum = (pick: (s: StoredReplayStats) => number): number => stats.reduce((total, s) => total + pick(s), 0);
  const sumOrNull = (pick: (s: StoredReplayStats) => number | null): number | null => (stats.some((s) => pick(s) === null) ? null : sum((s) => pick(s) ?? 0));
  const byKind: Record<string, number> = {};
  for (const s of stats) for (const [kind, n] of Object.entries(s.sendErrorsByKind)) byKind[kind] = (byKind[kind] ?? 0) + n;
  const lateness = stats.some((s) => s.lateness === null)
    ? null
    : {
        p50Us: Math.max(...stats.map((s) => s.lateness?.p50Us ?? 0)),
        p99Us: Math.max(...stats.map((s) => s.lateness?.p99Us ?? 0)),
        maxUs: Math.max(...stats.map((s) => s.lateness?.maxUs ?? 0)),
      };
  return {
    planned: sum((s) => s.planned),
    sent: sum((s) => s.sent),
    sendErrors: sum((s) => s.sendErrors),
    sendErrorsByKind: byKind,
    acks: sum((s) => s.acks),
    receiveDrops: sumOrNull((s) => s.receiveDrops ?? null),
    askedRatePps: sumOrNull((s) => s.askedRatePps),
    achievedRatePps: sumOrNull((s) => s.achievedRatePps),
    lateness,
    notAsRecorded: mergeNotAsRecorded(stats.flatMap((s) => s.notAsRecorded)),
    observers: stats.flatMap((s) => s.observers),
    ...(stats.some((s) => s.backendDrops !== undefined) && { backendDrops: mergeBackendDrops(stats) }),
  };
}

/** Each simulated backend's drops, added up over the parts that ran one. */
function mergeBackendDrops(stats: readonly StoredReplayStats[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const s of stats) for (const [role, n] of Object.entries(s.backendDrops ?? {})) merged[role] = (merged[role] ?? 0) + n;
  return merged;
}

/** The parts' sends not made as recorded, added up by reason, with the first examples of any part. */
function mergeNotAsRecorded(all: readonly NotAsRecorded[]): NotAsRecorded[] {
  const byReason = new Map<string, NotAsRecorded>();
  for (const n of all) {
    const merged = byReason.get(n.reason);
    if (merged === undefined) byReason.set(n.reason, { reason: n.reason, count: n.count, examples: [...n.examples] });
    else {
      merged.count += n.count;
      for (const example of n.examples) addExample(merged, example);
    }
  }
  return [...byReason.values()];
}
