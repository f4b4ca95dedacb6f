import type { JsonObject } from '../core/json.ts';
import { parseThresholds, type ThresholdConfig } from '../analyse/thresholds.ts';
import type { FaultPlan } from '../backends/fault-plan.ts';
import { isSafeName, NAME_RULE } from '../core/names.ts';
import { isProtocolName, type ProtocolName } from '../protocols/index.ts';
import type { ReplayRequest } from '../run/replay-request.ts';
import { parseBackends, parseExpect, parseRelay, parseReplay, parseTimeline, parseTraffic } from './scenario-sections.ts';
import type { YamlSource } from '../core/yaml-file.ts';
import { YamlReader } from './yaml-reader.ts';

/** A whole validation, as a scenario YAML declares it (README, "Scenario files"). */
export interface ScenarioSpec {
  name: string;
  description: string;
  protocol: ProtocolName;
  traffic: { capture: string } | { generate: { devices: number; durationMs: number; intervalMs: number; seed: number } };
  relay: BuiltinRelay | ExternalRelay;
  backends: ScenarioBackend[];
  replay: ReplayRequest;
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
  globals: JsonObject;
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
  /** How long it may take to become ready (its URL answering, its ports bound) before the run fails. */
  readyTimeoutMs: number;
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
  | { atMs: number; action: 'reload'; globals: JsonObject };

const TOP_KEYS = ['name', 'description', 'protocol', 'traffic', 'relay', 'backends', 'replay', 'timeline', 'thresholds', 'baseline', 'expect', 'capture_iface'];

/** Parses a scenario from its YAML value; every fault names the file and the key. */
export function parseScenario(input: unknown, source: string, lineOf?: YamlSource['lineOf']): ScenarioSpec {
  const r = new YamlReader(source, lineOf);
  const root = r.mapping(input ?? {}, '(top level)');
  r.onlyKeys(root, '', TOP_KEYS);
  const name = r.text(root.name, 'name');
  if (!isSafeName(name)) throw r.error('name', `"${name}" is not a usable name: use ${NAME_RULE} (it names the run and its report folder)`);
  const protocol = r.text(root.protocol ?? 'calamp-lmd', 'protocol');
  if (!isProtocolName(protocol)) throw r.error('protocol', `"${protocol}" is not a known protocol (calamp-lmd, teltonika-udp, generic)`);
  const backends = parseBackends(r, root.backends);
  return {
    name,
    description: String(root.description ?? ''),
    protocol,
    traffic: parseTraffic(r, root.traffic),
    relay: parseRelay(r, root.relay),
    backends,
    replay: parseReplay(r, root.replay),
    timeline: parseTimeline(r, root.timeline, backends),
    thresholds: parseThresholds(root.thresholds ?? {}, `${source}: thresholds`),
    baseline: root.baseline === undefined ? undefined : r.text(root.baseline, 'baseline'),
    captureIface: root.capture_iface === undefined ? 'lo' : r.text(root.capture_iface, 'capture_iface'),
    expect: parseExpect(r, root.expect),
  };
}
