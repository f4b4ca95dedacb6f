/**
 * The typed shape of what a run stores as JSON (topology, replay stats), with one reader each: the writers build these
 * types, and every reader goes through the functions here instead of casting `unknown`. Readers are lenient with
 * runs written by earlier versions (a missing field takes its neutral value) and strict about types.
 */

import { isJsonObject, type JsonValue } from '../core/json.ts';
import type { Pace } from '../replay/replay-plan.ts';

/** How a backend's legs were observed in a run. */
export type Observation = 'simulated' | 'tap' | 'live' | 'none';

export interface TopologyBackend {
  role: string;
  ip: string;
  observation: Observation;
  /** For reports: who observed it and where. */
  observed: string;
  faults?: { readonly [setting: string]: JsonValue | undefined };
  /**
   * Why what was observed of it is not whole (its recording's process died before it closed its store): the run proves
   * nothing either way about this backend, whose last packets may be missing from the record, not from its traffic.
   */
  unfinished?: string;
  /**
   * Observations its own store could not record (a `parity backend --db` whose queue was full while the store fell
   * behind), merged with it: missing from the record, not from its traffic.
   */
  unrecorded?: number;
}

export interface TopologyRoute {
  port: number;
  customer: string;
  device: string;
}

export interface RunTopology {
  scenario?: string;
  description?: string;
  /** The relay, with the routes.json settings a built-in one was started with. */
  relay?: { kind: 'builtin' | 'external'; address: string; debug: string | null; [setting: string]: JsonValue };
  backends: TopologyBackend[];
  routes: TopologyRoute[];
  timeline?: readonly JsonValue[];
  /**
   * HTTP runs of a scenario: the runs it was judged by (no shadow: the latency baseline; A/A: the field noise; the
   * shadow healthy, slow, failing: the live latency under each), so a later `parity analyse` judges it the same way.
   */
  calibration?: RunCalibration;
  /**
   * A run whose relay took its configuration from a control plane: what was published (valid or not), every event
   * between them (ControlEvent), and the version the data plane ran at the end, for the verdict to check.
   */
  controlPlane?: { published: readonly JsonValue[]; events: readonly JsonValue[]; final: JsonValue };
}

export interface RunCalibration {
  noShadow?: string;
  aa?: string;
  conditions?: { label: string; run: string }[];
}

/** What the replayer counted, as stored with the run. */
export interface StoredReplayStats {
  planned: number;
  sent: number;
  sendErrors: number;
  /** Failed sends by kind (refused, unreachable, no buffer, ...). */
  sendErrorsByKind: Record<string, number>;
  acks: number;
  /** Datagrams dropped on arrival at the UDP replayer's own sockets (replay-types.ts); null or absent: not seen. */
  receiveDrops?: number | null;
  askedRatePps: number | null;
  achievedRatePps: number | null;
  lateness: { p50Us: number; p99Us: number; maxUs: number } | null;
  /**
   * Sends that could not be made as recorded, by why (a COPY ... FROM STDIN whose data the capture does not hold): they
   * reached the target in another form, so their parity proves less than the rest. The first few texts with each.
   */
  notAsRecorded: NotAsRecorded[];
  /** Datagrams dropped on arrival at the simulated backends' sockets, by role (SimulatedBackend.receiveDrops). */
  backendDrops?: Record<string, number>;
  /** Counters of the taps in front of backends. */
  observers: { observer: string; backend: string; forwarded: number; replies: number; strayReplies: number; errors: Record<string, number>; receiveDrops?: number | null; replyDrops?: number | null }[];
  /** What the UDP replayer's sending thread counted of its late sends (replay-types.ts), where it counted them. */
  senderWaitedForCpu?: StoredStall | null;
  senderCollections?: { count: number; totalMs: number; maxMs: number } | null;
  senderLateBatches?: StoredStall | null;
}

/** How many stretches, and how long in all. */
export interface StoredStall {
  times: number;
  ms: number;
}

/** Texts kept with each reason a send was not made as recorded: enough to find them in the capture. */
const NOT_AS_RECORDED_EXAMPLES = 3;

export interface NotAsRecorded {
  reason: string;
  count: number;
  examples: string[];
}

/** Keeps `text` among the examples of `n`, while there is room and it is not there yet. */
export function addExample(n: NotAsRecorded, text: string): void {
  if (n.examples.length < NOT_AS_RECORDED_EXAMPLES && !n.examples.includes(text)) n.examples.push(text);
}

/** What a run replays, as the replayer describes it when the run starts. */
export interface StoredPlan {
  pace: Pace;
  loops: number;
  durationMs: number | undefined;
  sample: number;
  seed: number;
  /** The pace in words, for reports. */
  description: string;
  portMap: Record<string, number>;
  devices: string;
  ackTimeoutMs: number;
  /** The CPU the UDP replayer's sending thread had to itself (--sender-cpu), where it had one: its lateness depends on it. */
  senderCpu?: number;
}

/** What a recording counted: packets it could not record (a store too slow, the kernel's drops), and why a file ended early. */
export interface RecordingStats {
  unrecorded: number;
  /** Observations committed to a backend's own store. */
  observations: number | null;
  partial: string | null;
}

/** What a run's writer stores as its stats when it ends: a replay's counts, or a recording's. */
export type WrittenRunStats = (Omit<StoredReplayStats, 'observers' | 'notAsRecorded'> & { notAsRecorded?: NotAsRecorded[] }) | { unrecorded: number; observations?: number; partial?: string; backendDrops?: Record<string, number> };

const isObject = isJsonObject;
const numberOr = <T>(value: unknown, fallback: T): number | T => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const stringOr = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);

function observationOf(backend: Record<string, unknown>): Observation {
  const declared = backend.observation;
  if (declared === 'simulated' || declared === 'tap' || declared === 'live' || declared === 'none') return declared;
  // Runs written before `observation` existed carry only the text.
  const text = stringOr(backend.observed, '');
  if (text === 'built-in') return 'simulated';
  if (text.startsWith('tap')) return 'tap';
  if (text.startsWith('live')) return 'live';
  return 'none';
}

function readCalibration(value: { [key: string]: JsonValue }): RunCalibration {
  const conditions = (Array.isArray(value.conditions) ? value.conditions : []).filter(isObject).map((c) => ({ label: stringOr(c.label, ''), run: stringOr(c.run, '') }));
  return {
    ...(typeof value.noShadow === 'string' && { noShadow: value.noShadow }),
    ...(typeof value.aa === 'string' && { aa: value.aa }),
    ...(conditions.length > 0 && { conditions: conditions.filter((c) => c.label !== '' && c.run !== '') }),
  };
}

export function readTopology(value: JsonValue): RunTopology {
  const root = isObject(value) ? value : {};
  const backends = (Array.isArray(root.backends) ? root.backends : []).filter(isObject).map((b) => ({
    role: stringOr(b.role, ''),
    ip: stringOr(b.ip, ''),
    observation: observationOf(b),
    observed: stringOr(b.observed, ''),
    ...(isObject(b.faults) && { faults: b.faults }),
    ...(typeof b.unfinished === 'string' && { unfinished: b.unfinished }),
    ...(typeof b.unrecorded === 'number' && b.unrecorded > 0 && { unrecorded: b.unrecorded }),
  }));
  const routes = (Array.isArray(root.routes) ? root.routes : []).filter(isObject).map((r) => ({
    port: numberOr(r.port, 0),
    customer: stringOr(r.customer, ''),
    device: stringOr(r.device, ''),
  }));
  // The relay's other fields are the routes.json settings it was started with: kept as they are, for reports.
  const relay = isObject(root.relay)
    ? { ...root.relay, kind: root.relay.kind === 'external' ? ('external' as const) : ('builtin' as const), address: stringOr(root.relay.address, ''), debug: typeof root.relay.debug === 'string' ? root.relay.debug : null }
    : undefined;
  return {
    ...(typeof root.scenario === 'string' && { scenario: root.scenario }),
    ...(typeof root.description === 'string' && { description: root.description }),
    ...(relay !== undefined && { relay }),
    backends: backends.filter((b) => b.role !== ''),
    routes: routes.filter((r) => r.port > 0),
    ...(Array.isArray(root.timeline) && { timeline: root.timeline }),
    ...(isObject(root.calibration) && { calibration: readCalibration(root.calibration) }),
  };
}

/** Backends whose legs the run was set up to observe: each must show traffic, or the leg is dead. */
export function observedBackends(topology: RunTopology): string[] {
  return topology.backends.filter((b) => b.observation !== 'none').map((b) => b.role);
}

export function readReplayStats(value: JsonValue): StoredReplayStats | null {
  if (!isObject(value)) return null;
  const lateness = isObject(value.lateness) ? { p50Us: numberOr(value.lateness.p50Us, 0), p99Us: numberOr(value.lateness.p99Us, 0), maxUs: numberOr(value.lateness.maxUs, 0) } : null;
  const byKind = isObject(value.sendErrorsByKind) ? Object.fromEntries(Object.entries(value.sendErrorsByKind).filter((e): e is [string, number] => typeof e[1] === 'number')) : {};
  return {
    planned: numberOr(value.planned, 0),
    sent: numberOr(value.sent, 0),
    sendErrors: numberOr(value.sendErrors, 0),
    sendErrorsByKind: byKind,
    acks: numberOr(value.acks, 0),
    receiveDrops: numberOr(value.receiveDrops, null),
    askedRatePps: numberOr(value.askedRatePps, null),
    achievedRatePps: numberOr(value.achievedRatePps, null),
    lateness,
    notAsRecorded: (Array.isArray(value.notAsRecorded) ? value.notAsRecorded : []).filter(isObject).map((n) => ({
      reason: stringOr(n.reason, ''),
      count: numberOr(n.count, 0),
      examples: (Array.isArray(n.examples) ? n.examples : []).filter((e): e is string => typeof e === 'string'),
    })).filter((n) => n.reason !== '' && n.count > 0),
    observers: (Array.isArray(value.observers) ? value.observers : []).filter(isObject).map((o) => ({
      observer: stringOr(o.observer, ''),
      backend: stringOr(o.backend, ''),
      forwarded: numberOr(o.forwarded, 0),
      replies: numberOr(o.replies, 0),
      strayReplies: numberOr(o.strayReplies, 0),
      receiveDrops: numberOr(o.receiveDrops, null),
      replyDrops: numberOr(o.replyDrops, null),
      errors: isObject(o.errors) ? Object.fromEntries(Object.entries(o.errors).filter((e): e is [string, number] => typeof e[1] === 'number')) : {},
    })),
    ...(isObject(value.backendDrops) && { backendDrops: Object.fromEntries(Object.entries(value.backendDrops).filter((e): e is [string, number] => typeof e[1] === 'number')) }),
    senderWaitedForCpu: stallOf(value.senderWaitedForCpu),
    senderCollections: isObject(value.senderCollections) ? { count: numberOr(value.senderCollections.count, 0), totalMs: numberOr(value.senderCollections.totalMs, 0), maxMs: numberOr(value.senderCollections.maxMs, 0) } : null,
    senderLateBatches: stallOf(value.senderLateBatches),
  };
}

function stallOf(value: JsonValue | undefined): StoredStall | null {
  return isObject(value) ? { times: numberOr(value.times, 0), ms: numberOr(value.ms, 0) } : null;
}

const PACE_KINDS = new Set(['original', 'rate', 'ramp', 'max']);

function paceOf(value: JsonValue | undefined): Pace | null {
  if (!isObject(value) || typeof value.kind !== 'string' || !PACE_KINDS.has(value.kind)) return null;
  if (value.kind === 'original') return { kind: 'original', speed: numberOr(value.speed, 1) };
  if (value.kind === 'rate') return { kind: 'rate', ratePps: numberOr(value.ratePps, 0) };
  if (value.kind === 'ramp') return { kind: 'ramp', fromPps: numberOr(value.fromPps, 0), toPps: numberOr(value.toPps, 0), overMs: numberOr(value.overMs, 0) };
  return { kind: 'max' };
}

/** A run's plan, or null for a run that replays nothing (a recording) or whose plan is unreadable. */
export function readPlan(value: JsonValue): StoredPlan | null {
  if (!isObject(value)) return null;
  const pace = paceOf(value.pace);
  if (pace === null) return null;
  const portMap = isObject(value.portMap) ? Object.fromEntries(Object.entries(value.portMap).filter((e): e is [string, number] => typeof e[1] === 'number')) : {};
  return {
    pace,
    loops: numberOr(value.loops, 1),
    durationMs: numberOr(value.durationMs, undefined),
    sample: numberOr(value.sample, 1),
    seed: numberOr(value.seed, 1),
    description: stringOr(value.description, ''),
    portMap,
    devices: stringOr(value.devices, ''),
    ackTimeoutMs: numberOr(value.ackTimeoutMs, 0),
    ...(typeof value.senderCpu === 'number' && { senderCpu: value.senderCpu }),
  };
}

/** A recording's counts, or null for a run that recorded nothing of its own (a replay). */
export function readRecordingStats(value: JsonValue): RecordingStats | null {
  if (!isObject(value) || typeof value.unrecorded !== 'number') return null;
  return { unrecorded: value.unrecorded, observations: numberOr(value.observations, null), partial: typeof value.partial === 'string' ? value.partial : null };
}
