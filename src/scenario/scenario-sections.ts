import type { JsonObject } from '../core/json.ts';
import type { FaultPlan } from '../backends/fault-plan.ts';
import { readReplayRequest, REPLAY_FIELDS, type RawReplay } from '../run/replay-request.ts';
import type { BuiltinRelay, ExternalRelay, ScenarioBackend, ScenarioSpec, TimelineEvent } from './scenario-spec.ts';
import { parseReadyTimeout } from './external-process.ts';
import type { YamlReader } from './yaml-reader.ts';

/** `traffic:`: a capture (a file or a capture name), or a fleet to generate. */
export function parseTraffic(r: YamlReader, value: unknown): ScenarioSpec['traffic'] {
  const traffic = r.mapping(value, 'traffic');
  r.onlyKeys(traffic, 'traffic', ['capture', 'generate']);
  if (traffic.capture !== undefined) return { capture: r.text(traffic.capture, 'traffic.capture') };
  if (traffic.generate === undefined) throw r.error('traffic', 'needs capture (a file or a capture name) or generate');
  const generate = r.mapping(traffic.generate, 'traffic.generate');
  r.onlyKeys(generate, 'traffic.generate', ['devices', 'duration', 'interval', 'seed']);
  return {
    generate: {
      devices: r.whole(generate.devices, 'traffic.generate.devices', 1, 1_000_000, 20),
      durationMs: r.duration(generate.duration ?? '2m', 'traffic.generate.duration'),
      intervalMs: r.duration(generate.interval ?? '10s', 'traffic.generate.interval'),
      seed: r.whole(generate.seed, 'traffic.generate.seed', 0, 2 ** 32 - 1, 1),
    },
  };
}

/** `relay:`: the reference relay (`builtin`) or the user's (`external`). */
export function parseRelay(r: YamlReader, value: unknown): BuiltinRelay | ExternalRelay {
  const relay = r.mapping(value ?? { builtin: {} }, 'relay');
  r.onlyKeys(relay, 'relay', ['builtin', 'external']);
  if (relay.external !== undefined) {
    const external = r.mapping(relay.external, 'relay.external');
    r.onlyKeys(external, 'relay.external', ['address', 'debug', 'command', 'ready_url', 'ready_after', 'ready_timeout', 'customer', 'device']);
    const address = r.address(external.address, 'relay.external.address');
    if (address === undefined) throw r.error('relay.external.address', 'is required');
    const optionalText = (key: string): string | undefined => (external[key] === undefined ? undefined : r.text(external[key], `relay.external.${key}`));
    return {
      kind: 'external',
      address,
      debugUrl: optionalText('debug'),
      command: optionalText('command'),
      readyUrl: optionalText('ready_url'),
      readyAfterMs: external.ready_after === undefined ? 1000 : r.duration(external.ready_after, 'relay.external.ready_after'),
      readyTimeoutMs: parseReadyTimeout(r, external, 'relay.external'),
      customer: optionalText('customer') ?? '',
      device: optionalText('device') ?? '',
    };
  }
  const builtin = r.mapping(relay.builtin ?? {}, 'relay.builtin');
  r.onlyKeys(builtin, 'relay.builtin', ['address', 'mirror', 'ack_from_mirror', 'kill_switch', 'response_timeout', 'customer', 'device']);
  const globals: JsonObject = {};
  for (const key of ['mirror', 'ack_from_mirror', 'kill_switch'] as const) {
    if (builtin[key] === undefined) continue;
    if (typeof builtin[key] !== 'boolean') throw r.error(`relay.builtin.${key}`, 'must be true or false');
    globals[key] = builtin[key];
  }
  return {
    kind: 'builtin',
    globals,
    responseTimeoutMs: builtin.response_timeout === undefined ? 2000 : r.duration(builtin.response_timeout, 'relay.builtin.response_timeout'),
    address: r.address(builtin.address, 'relay.builtin.address'),
    customer: String(builtin.customer ?? ''),
    device: String(builtin.device ?? ''),
  };
}

const BACKEND_KEYS = ['address', 'external', 'observe', 'latency', 'jitter', 'loss', 'nak', 'ack_version', 'duplicate_acks', 'phantom_acks', 'blackhole_after', 'crash_after', 'seed'];

/** `backends:`: each role simulated (with its faults) or external (with how its legs are observed). */
export function parseBackends(r: YamlReader, value: unknown): ScenarioBackend[] {
  const input = r.mapping(value ?? { primary: {}, mirror: {} }, 'backends');
  const backends = Object.entries(input).map(([role, entry]) => parseBackend(r, role, entry));
  if (!backends.some((b) => b.role === 'primary' || b.role === 'target-0')) throw r.error('backends', 'needs a primary (or target-0)');
  return backends;
}

function parseBackend(r: YamlReader, role: string, value: unknown): ScenarioBackend {
  if (!/^(primary|mirror|target-\d+)$/.test(role)) throw r.error(`backends.${role}`, 'is not a backend role (primary, mirror or target-N)');
  const b = r.mapping(value ?? {}, `backends.${role}`);
  const key = (k: string): string => `backends.${role}.${k}`;
  r.onlyKeys(b, `backends.${role}`, BACKEND_KEYS);
  let external: ScenarioBackend['external'];
  if (b.external !== undefined) {
    const ip = r.address(b.external, key('external')) as string;
    const observe = b.observe ?? 'tap';
    if (observe !== 'tap' && observe !== 'live' && observe !== 'none') throw r.error(key('observe'), 'must be tap, live or none');
    const simulatedOnly = Object.keys(b).filter((k) => !['address', 'external', 'observe'].includes(k));
    if (simulatedOnly.length > 0) throw r.error(key(simulatedOnly[0] as string), 'is for simulated backends; an external backend behaves as it does');
    external = { ip, observe };
  } else if (b.observe !== undefined) {
    throw r.error(key('observe'), 'applies to external backends only (simulated ones record their own legs)');
  }
  return { role, address: r.address(b.address, key('address')), faults: parseFaults(r, b, key), external };
}

function parseFaults(r: YamlReader, b: Record<string, unknown>, key: (k: string) => string): Partial<FaultPlan> {
  const faults: Partial<FaultPlan> = {};
  if (b.latency !== undefined) faults.latencyMs = r.duration(b.latency, key('latency'));
  if (b.jitter !== undefined) faults.jitterMs = r.duration(b.jitter, key('jitter'));
  if (b.loss !== undefined) faults.lossRate = r.share(b.loss, key('loss'));
  if (b.nak !== undefined) faults.nakRate = r.share(b.nak, key('nak'));
  if (b.duplicate_acks !== undefined) faults.duplicateAckRate = r.share(b.duplicate_acks, key('duplicate_acks'));
  if (b.phantom_acks !== undefined) faults.phantomAckRate = r.share(b.phantom_acks, key('phantom_acks'));
  if (b.blackhole_after !== undefined) faults.blackholeAfterMs = r.duration(b.blackhole_after, key('blackhole_after'));
  if (b.crash_after !== undefined) faults.crashAfterMs = r.duration(b.crash_after, key('crash_after'));
  if (b.seed !== undefined) faults.seed = r.whole(b.seed, key('seed'), 0, 2 ** 32 - 1, 1);
  if (b.ack_version !== undefined) {
    const parts = String(b.ack_version).split('.').map(Number);
    if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw r.error(key('ack_version'), 'must be a.b.c with each part 0-255');
    faults.ackVersion = parts as [number, number, number];
  }
  return faults;
}

/**
 * `replay:`: one pace (speed, rate or ramp), loops, duration, sample, timeouts. `sender_cpu` is the UDP replayer's
 * (a family that sends from its own threads says so rather than ignore it): `family` names the scenario's otherwise.
 */
export function parseReplay(r: YamlReader, value: unknown, family?: string): ScenarioSpec['replay'] {
  const replay = r.mapping(value ?? {}, 'replay');
  if (family !== undefined && replay.sender_cpu !== undefined) throw r.error('replay.sender_cpu', `applies to a UDP replay through a relay, not to a ${family} scenario`);
  r.onlyKeys(replay, 'replay', REPLAY_FIELDS);
  const raw: RawReplay = {};
  for (const field of REPLAY_FIELDS) {
    const given = replay[field];
    if (given === undefined) continue;
    if (typeof given !== 'string' && typeof given !== 'number') throw r.error(`replay.${field}`, 'must be a value, not a list or a mapping');
    raw[field] = given;
  }
  return readReplayRequest(raw, (field, problem) => r.valueError(`replay.${field}`, problem));
}

/** `timeline:`: backends stopped and started, routes reloaded, at times into the replay. */
export function parseTimeline(r: YamlReader, value: unknown, backends: readonly ScenarioBackend[]): TimelineEvent[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw r.error('timeline', 'must be a list of events');
  return value.map((entry: unknown, index: number): TimelineEvent => {
    const at = `timeline[${index}]`;
    const event = r.mapping(entry, at);
    r.onlyKeys(event, at, ['at', 'stop', 'start', 'reload']);
    const atMs = r.duration(event.at, `${at}.at`);
    if (event.stop !== undefined || event.start !== undefined) {
      const action = event.stop !== undefined ? 'stop' : 'start';
      const backend = r.text(event[action], `${at}.${action}`);
      const target = backends.find((b) => b.role === backend);
      if (target === undefined) throw r.error(`${at}.${action}`, `names no backend of this scenario ("${backend}")`);
      if (target.external !== undefined) throw r.error(`${at}.${action}`, `"${backend}" is external: only simulated backends can be stopped and started`);
      return { atMs, action, backend };
    }
    if (event.reload !== undefined) return { atMs, action: 'reload', globals: r.mapping(event.reload, `${at}.reload`) as JsonObject };
    throw r.error(at, 'needs one of stop, start or reload');
  });
}

/** `expect:`: what the scenario should conclude. */
export function parseExpect(r: YamlReader, value: unknown): ScenarioSpec['expect'] {
  if (value === undefined) return undefined;
  const e = r.mapping(value, 'expect');
  r.onlyKeys(e, 'expect', ['verdict', 'findings']);
  return { verdict: e.verdict === undefined ? undefined : r.text(e.verdict, 'expect.verdict'), findings: Array.isArray(e.findings) ? e.findings.map(String) : [] };
}
