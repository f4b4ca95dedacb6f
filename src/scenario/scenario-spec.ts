import { ConfigError } from '../core/errors.ts';
import { isIpv4 } from '../core/ip-address.ts';
import { parseThresholds, type ThresholdConfig } from '../analyse/thresholds.ts';
import type { FaultPlan } from '../backends/fault-plan.ts';
import { isProtocolName, type ProtocolName } from '../protocols/index.ts';
import { parseRamp, parseRatePps, parseSpeed, type Pace } from '../replay/replay-plan.ts';

/** A whole validation, as a scenario YAML declares it (README, "Scenario files"). */
export interface ScenarioSpec {
  name: string;
  description: string;
  protocol: ProtocolName;
  traffic: { capture: string } | { generate: { devices: number; durationMs: number; intervalMs: number; seed: number } };
  relay: BuiltinRelay | ExternalRelay;
  backends: ScenarioBackend[];
  replay: { pace: Pace; loops: number; durationMs: number | undefined; sample: number; seed: number; ackTimeoutMs: number; devices: string; drainMs: number | undefined };
  timeline: TimelineEvent[];
  thresholds: ThresholdConfig;
  baseline: string | undefined;
  /** Interface the live capture of `observe: live` backends runs on. */
  captureIface: string;
  /** What the scenario is expected to conclude: checked by `parity run` when present (exit 1 when not met). */
  expect: { verdict: string | undefined; findings: string[] } | undefined;
}

export interface BuiltinRelay {
  kind: 'builtin';
  /** routes.json top-level fields (mirror, ack_from_mirror, kill_switch); route targets come from the backends. */
  globals: Record<string, unknown>;
  responseTimeoutMs: number;
  /** Address the relay listens on; one is chosen when absent. */
  address: string | undefined;
  customer: string;
  device: string;
}

export interface ExternalRelay {
  kind: 'external';
  address: string;
  /** Base URL of its /debug/* and /metrics, polled during the run when given. */
  debugUrl: string | undefined;
  /** A command that starts it (run in a shell, stopped with the scenario); absent when it is already running. */
  command: string | undefined;
  /** Ready when this URL answers 200 (or after `readyAfterMs` when no URL is given). */
  readyUrl: string | undefined;
  readyAfterMs: number;
  /** Route labels for reports; when absent they are read from the relay's own /metrics, if it serves them. */
  customer: string;
  device: string;
}

export interface ScenarioBackend {
  role: string;
  /** Address to listen on (a simulated backend, or the tap in front of an external one); chosen when absent. */
  address: string | undefined;
  faults: Partial<FaultPlan>;
  /** An external backend (not simulated), and how its legs are observed: through a recording tap, or not at all. */
  external: { ip: string; observe: 'tap' | 'live' | 'none' } | undefined;
}

export type TimelineEvent =
  | { atMs: number; action: 'stop'; backend: string }
  | { atMs: number; action: 'start'; backend: string }
  | { atMs: number; action: 'reload'; globals: Record<string, unknown> };

const TOP_KEYS = ['name', 'description', 'protocol', 'traffic', 'relay', 'backends', 'replay', 'timeline', 'thresholds', 'baseline', 'expect', 'capture_iface'];

/** Parses a scenario from its YAML value; every fault names the file and the key. */
export function parseScenario(input: unknown, source: string, parseDurationMs: (text: string) => number, parseFraction: (text: string) => number): ScenarioSpec {
  const err = (key: string, problem: string): ConfigError => new ConfigError(`${source}: ${key} ${problem}`, { file: source, field: key });
  const obj = (value: unknown, key: string): Record<string, unknown> => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw err(key, 'must be a mapping');
    return value as Record<string, unknown>;
  };
  const onlyKeys = (value: Record<string, unknown>, key: string, allowed: readonly string[]): void => {
    const extra = Object.keys(value).find((k) => !allowed.includes(k));
    if (extra !== undefined) throw err(`${key === '' ? '' : `${key}.`}${extra}`, `is not a known key (known: ${allowed.join(', ')})`);
  };
  const text = (value: unknown, key: string): string => {
    if (typeof value !== 'string' || value === '') throw err(key, 'must be a non-empty string');
    return value;
  };
  const duration = (value: unknown, key: string): number => {
    try {
      return parseDurationMs(String(value));
    } catch {
      throw err(key, `"${String(value)}" is not a duration (e.g. 500ms, 20s, 2m)`);
    }
  };
  const share = (value: unknown, key: string): number => {
    try {
      return typeof value === 'number' ? parseFraction(String(value)) : parseFraction(String(value));
    } catch {
      throw err(key, `"${String(value)}" is not a share (e.g. 2%, 0.02)`);
    }
  };
  const address = (value: unknown, key: string): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !isIpv4(value)) throw err(key, `"${String(value)}" is not an IPv4 address`);
    return value;
  };

  const root = obj(input ?? {}, '(top level)');
  onlyKeys(root, '', TOP_KEYS);
  const name = text(root.name, 'name');
  if (!/^[\w.-]+$/.test(name)) throw err('name', 'may use letters, digits, dot, dash and underscore only (it names the run and its report folder)');
  const protocol = text(root.protocol ?? 'calamp-lmd', 'protocol');
  if (!isProtocolName(protocol)) throw err('protocol', `"${protocol}" is not a known protocol (calamp-lmd, teltonika-udp, generic)`);

  const traffic = obj(root.traffic, 'traffic');
  onlyKeys(traffic, 'traffic', ['capture', 'generate']);
  let parsedTraffic: ScenarioSpec['traffic'];
  if (traffic.capture !== undefined) parsedTraffic = { capture: text(traffic.capture, 'traffic.capture') };
  else if (traffic.generate !== undefined) {
    const generate = obj(traffic.generate, 'traffic.generate');
    onlyKeys(generate, 'traffic.generate', ['devices', 'duration', 'interval', 'seed']);
    const devices = Number(generate.devices ?? 20);
    if (!Number.isInteger(devices) || devices < 1) throw err('traffic.generate.devices', 'must be a whole number of devices');
    parsedTraffic = {
      generate: {
        devices,
        durationMs: duration(generate.duration ?? '2m', 'traffic.generate.duration'),
        intervalMs: duration(generate.interval ?? '10s', 'traffic.generate.interval'),
        seed: Number(generate.seed ?? 1),
      },
    };
  } else throw err('traffic', 'needs capture (a file or a capture name) or generate');

  const relay = obj(root.relay ?? { builtin: {} }, 'relay');
  onlyKeys(relay, 'relay', ['builtin', 'external']);
  let parsedRelay: BuiltinRelay | ExternalRelay;
  if (relay.external !== undefined) {
    const external = obj(relay.external, 'relay.external');
    onlyKeys(external, 'relay.external', ['address', 'debug', 'command', 'ready_url', 'ready_after', 'customer', 'device']);
    parsedRelay = {
      kind: 'external',
      address: address(external.address, 'relay.external.address') ?? (() => { throw err('relay.external.address', 'is required'); })(),
      debugUrl: external.debug === undefined ? undefined : text(external.debug, 'relay.external.debug'),
      command: external.command === undefined ? undefined : text(external.command, 'relay.external.command'),
      readyUrl: external.ready_url === undefined ? undefined : text(external.ready_url, 'relay.external.ready_url'),
      readyAfterMs: external.ready_after === undefined ? 1000 : duration(external.ready_after, 'relay.external.ready_after'),
      customer: external.customer === undefined ? '' : text(external.customer, 'relay.external.customer'),
      device: external.device === undefined ? '' : text(external.device, 'relay.external.device'),
    };
  } else {
    const builtin = obj(relay.builtin ?? {}, 'relay.builtin');
    onlyKeys(builtin, 'relay.builtin', ['address', 'mirror', 'ack_from_mirror', 'kill_switch', 'response_timeout', 'customer', 'device']);
    const globals: Record<string, unknown> = {};
    for (const key of ['mirror', 'ack_from_mirror', 'kill_switch'] as const) {
      if (builtin[key] === undefined) continue;
      if (typeof builtin[key] !== 'boolean') throw err(`relay.builtin.${key}`, 'must be true or false');
      globals[key] = builtin[key];
    }
    parsedRelay = {
      kind: 'builtin',
      globals,
      responseTimeoutMs: builtin.response_timeout === undefined ? 2000 : duration(builtin.response_timeout, 'relay.builtin.response_timeout'),
      address: address(builtin.address, 'relay.builtin.address'),
      customer: String(builtin.customer ?? ''),
      device: String(builtin.device ?? ''),
    };
  }

  const backendsInput = obj(root.backends ?? { primary: {}, mirror: {} }, 'backends');
  const backends: ScenarioBackend[] = Object.entries(backendsInput).map(([role, value]) => {
    if (!/^(primary|mirror|target-\d+)$/.test(role)) throw err(`backends.${role}`, 'is not a backend role (primary, mirror or target-N)');
    const b = obj(value ?? {}, `backends.${role}`);
    const key = (k: string): string => `backends.${role}.${k}`;
    onlyKeys(b, `backends.${role}`, ['address', 'external', 'observe', 'latency', 'jitter', 'loss', 'nak', 'ack_version', 'duplicate_acks', 'blackhole_after', 'crash_after', 'seed']);
    let external: ScenarioBackend['external'];
    if (b.external !== undefined) {
      const ip = address(b.external, key('external')) as string;
      const observe = b.observe ?? 'tap';
      if (observe !== 'tap' && observe !== 'live' && observe !== 'none') throw err(key('observe'), 'must be tap, live or none');
      const simulatedOnly = Object.keys(b).filter((k) => !['address', 'external', 'observe'].includes(k));
      if (simulatedOnly.length > 0) throw err(key(simulatedOnly[0] as string), 'is for simulated backends; an external backend behaves as it does');
      external = { ip, observe };
    } else if (b.observe !== undefined) {
      throw err(key('observe'), 'applies to external backends only (simulated ones record their own legs)');
    }
    const faults: Partial<FaultPlan> = {};
    if (b.latency !== undefined) faults.latencyMs = duration(b.latency, key('latency'));
    if (b.jitter !== undefined) faults.jitterMs = duration(b.jitter, key('jitter'));
    if (b.loss !== undefined) faults.lossRate = share(b.loss, key('loss'));
    if (b.nak !== undefined) faults.nakRate = share(b.nak, key('nak'));
    if (b.duplicate_acks !== undefined) faults.duplicateAckRate = share(b.duplicate_acks, key('duplicate_acks'));
    if (b.blackhole_after !== undefined) faults.blackholeAfterMs = duration(b.blackhole_after, key('blackhole_after'));
    if (b.crash_after !== undefined) faults.crashAfterMs = duration(b.crash_after, key('crash_after'));
    if (b.seed !== undefined) faults.seed = Number(b.seed);
    if (b.ack_version !== undefined) {
      const parts = String(b.ack_version).split('.').map(Number);
      if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw err(key('ack_version'), 'must be a.b.c with each part 0-255');
      faults.ackVersion = parts as [number, number, number];
    }
    return { role, address: address(b.address, key('address')), faults, external };
  });
  if (!backends.some((b) => b.role === 'primary' || b.role === 'target-0')) throw err('backends', 'needs a primary (or target-0)');

  const replay = obj(root.replay ?? {}, 'replay');
  onlyKeys(replay, 'replay', ['speed', 'rate', 'ramp', 'loop', 'duration', 'sample', 'seed', 'ack_timeout', 'devices', 'drain']);
  const whole = (value: unknown, field: string, min: number, max: number, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw err(field, `must be a whole number from ${min} to ${max}`);
    return value;
  };
  const paces = ['speed', 'rate', 'ramp'].filter((k) => replay[k] !== undefined);
  if (paces.length > 1) throw err('replay', 'takes one of speed, rate and ramp');
  let pace: Pace;
  try {
    pace = replay.rate !== undefined ? { kind: 'rate', ratePps: parseRatePps(String(replay.rate)) } : replay.ramp !== undefined ? parseRamp(String(replay.ramp), parseDurationMs) : parseSpeed(String(replay.speed ?? '1x'));
  } catch (cause) {
    throw err(`replay.${paces[0] ?? 'speed'}`, (cause as Error).message);
  }

  const timeline: TimelineEvent[] = (Array.isArray(root.timeline) ? root.timeline : root.timeline === undefined ? [] : (() => { throw err('timeline', 'must be a list of events'); })()).map((value: unknown, index: number) => {
    const event = obj(value, `timeline[${index}]`);
    onlyKeys(event, `timeline[${index}]`, ['at', 'stop', 'start', 'reload']);
    const atMs = duration(event.at, `timeline[${index}].at`);
    if (event.stop !== undefined || event.start !== undefined) {
      const action = event.stop !== undefined ? 'stop' : 'start';
      const backend = text(event[action], `timeline[${index}].${action}`);
      const target = backends.find((b) => b.role === backend);
      if (target === undefined) throw err(`timeline[${index}].${action}`, `names no backend of this scenario ("${backend}")`);
      if (target.external !== undefined) throw err(`timeline[${index}].${action}`, `"${backend}" is external: only simulated backends can be stopped and started`);
      return { atMs, action, backend };
    }
    if (event.reload !== undefined) return { atMs, action: 'reload', globals: obj(event.reload, `timeline[${index}].reload`) };
    throw err(`timeline[${index}]`, 'needs one of stop, start or reload');
  });

  let expect: ScenarioSpec['expect'];
  if (root.expect !== undefined) {
    const e = obj(root.expect, 'expect');
    onlyKeys(e, 'expect', ['verdict', 'findings']);
    expect = { verdict: e.verdict === undefined ? undefined : text(e.verdict, 'expect.verdict'), findings: Array.isArray(e.findings) ? e.findings.map(String) : [] };
  }

  return {
    name,
    description: String(root.description ?? ''),
    protocol,
    traffic: parsedTraffic,
    relay: parsedRelay,
    backends,
    replay: {
      pace,
      loops: whole(replay.loop, 'replay.loop', 1, 1_000_000, 1),
      durationMs: replay.duration === undefined ? undefined : duration(replay.duration, 'replay.duration'),
      sample: replay.sample === undefined ? 1 : share(replay.sample, 'replay.sample'),
      seed: whole(replay.seed, 'replay.seed', 0, 2 ** 32 - 1, 1),
      ackTimeoutMs: replay.ack_timeout === undefined ? 2000 : duration(replay.ack_timeout, 'replay.ack_timeout'),
      devices: String(replay.devices ?? '127.20.0.0/16'),
      drainMs: replay.drain === undefined ? undefined : duration(replay.drain, 'replay.drain'),
    },
    timeline,
    thresholds: parseThresholds(root.thresholds ?? {}, `${source}: thresholds`),
    baseline: root.baseline === undefined ? undefined : text(root.baseline, 'baseline'),
    captureIface: root.capture_iface === undefined ? 'lo' : text(root.capture_iface, 'capture_iface'),
    expect,
  };
}
