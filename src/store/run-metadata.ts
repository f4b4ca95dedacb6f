/**
 * The typed shape of what a run stores as JSON (topology, replay stats), with one reader each: the writers build these
 * types, and every reader goes through the functions here instead of casting `unknown`. Readers are lenient with
 * runs written by earlier versions (a missing field takes its neutral value) and strict about types.
 */

/** How a backend's legs were observed in a run. */
export type Observation = 'simulated' | 'tap' | 'live' | 'none';

export interface TopologyBackend {
  role: string;
  ip: string;
  observation: Observation;
  /** For reports: who observed it and where. */
  observed: string;
  faults?: Record<string, unknown>;
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
  relay?: { kind: 'builtin' | 'external'; address: string; debug: string | null; [setting: string]: unknown };
  backends: TopologyBackend[];
  routes: TopologyRoute[];
  timeline?: unknown[];
}

/** What the replayer counted, as stored with the run. */
export interface StoredReplayStats {
  planned: number;
  sent: number;
  sendErrors: number;
  /** Failed sends by kind (refused, unreachable, no buffer, ...). */
  sendErrorsByKind: Record<string, number>;
  acks: number;
  askedRatePps: number | null;
  achievedRatePps: number | null;
  lateness: { p50Us: number; p99Us: number; maxUs: number } | null;
  /** Counters of the taps in front of backends. */
  observers: { observer: string; backend: string; forwarded: number; replies: number; strayReplies: number; errors: Record<string, number> }[];
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
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

export function readTopology(value: unknown): RunTopology {
  const root = isObject(value) ? value : {};
  const backends = (Array.isArray(root.backends) ? root.backends : []).filter(isObject).map((b) => ({
    role: stringOr(b.role, ''),
    ip: stringOr(b.ip, ''),
    observation: observationOf(b),
    observed: stringOr(b.observed, ''),
    ...(isObject(b.faults) && { faults: b.faults }),
  }));
  const routes = (Array.isArray(root.routes) ? root.routes : []).filter(isObject).map((r) => ({
    port: numberOr(r.port, 0),
    customer: stringOr(r.customer, ''),
    device: stringOr(r.device, ''),
  }));
  const relay = isObject(root.relay) ? { kind: root.relay.kind === 'external' ? ('external' as const) : ('builtin' as const), address: stringOr(root.relay.address, ''), debug: typeof root.relay.debug === 'string' ? root.relay.debug : null } : undefined;
  return {
    ...(typeof root.scenario === 'string' && { scenario: root.scenario }),
    ...(typeof root.description === 'string' && { description: root.description }),
    ...(relay !== undefined && { relay }),
    backends: backends.filter((b) => b.role !== ''),
    routes: routes.filter((r) => r.port > 0),
  };
}

/** Backends whose legs the run was set up to observe: each must show traffic, or the leg is dead. */
export function observedBackends(topology: RunTopology): string[] {
  return topology.backends.filter((b) => b.observation !== 'none').map((b) => b.role);
}

export function readReplayStats(value: unknown): StoredReplayStats | null {
  if (!isObject(value)) return null;
  const lateness = isObject(value.lateness) ? { p50Us: numberOr(value.lateness.p50Us, 0), p99Us: numberOr(value.lateness.p99Us, 0), maxUs: numberOr(value.lateness.maxUs, 0) } : null;
  const byKind = isObject(value.sendErrorsByKind) ? Object.fromEntries(Object.entries(value.sendErrorsByKind).filter((e): e is [string, number] => typeof e[1] === 'number')) : {};
  return {
    planned: numberOr(value.planned, 0),
    sent: numberOr(value.sent, 0),
    sendErrors: numberOr(value.sendErrors, 0),
    sendErrorsByKind: byKind,
    acks: numberOr(value.acks, 0),
    askedRatePps: numberOr(value.askedRatePps, null),
    achievedRatePps: numberOr(value.achievedRatePps, null),
    lateness,
    observers: (Array.isArray(value.observers) ? value.observers : []).filter(isObject).map((o) => ({
      observer: stringOr(o.observer, ''),
      backend: stringOr(o.backend, ''),
      forwarded: numberOr(o.forwarded, 0),
      replies: numberOr(o.replies, 0),
      strayReplies: numberOr(o.strayReplies, 0),
      errors: isObject(o.errors) ? Object.fromEntries(Object.entries(o.errors).filter((e): e is [string, number] => typeof e[1] === 'number')) : {},
    })),
  };
}
