import { parseThresholds, type ThresholdConfig } from '../../analyse/thresholds.ts';
import type { HttpBackendFaults } from '../../backends/http/http-backend.ts';
import type { JsonValue } from '../../core/json.ts';
import { isSafeName, NAME_RULE } from '../../core/names.ts';
import { parseHttpUrl } from '../../core/values.ts';
import type { ShadowProxyFaults } from '../../relay/http/shadow-proxy.ts';
import type { YamlSource } from '../../core/yaml-file.ts';
import type { ScenarioSpec } from '../scenario-spec.ts';
import { parseExpect, parseReplay } from '../scenario-sections.ts';
import { parseReadyTimeout } from '../external-process.ts';
import { YamlReader } from '../yaml-reader.ts';

/** A validation of a shadowing HTTP proxy, as a scenario YAML declares it (`protocol: http`; README, "HTTP shadowing"). */
export interface HttpScenarioSpec {
  name: string;
  description: string;
  protocol: 'http';
  traffic: { har: string } | { generate: { requests: number; meanGapMs: number; seed: number } };
  /** The reference proxy (with bugs on purpose, if asked), or the team's own started by a command for each run. */
  proxy: { kind: 'builtin'; shadowTimeoutMs: number; faults: ShadowProxyFaults } | { kind: 'external'; command: string; port: number; shadowTimeoutMs: number; readyTimeoutMs: number };
  /** Simulated backends (with faults on purpose), or real ones behind a recording tap; `aa`: a second instance of live's version for the A/A run, when live is real. */
  backends: { live: HttpScenarioBackend; shadow: HttpScenarioBackend; aa?: HttpScenarioBackend };
  replay: ScenarioSpec['replay'];
  /** Runs made first, to judge the main one by: a run with no shadow (latency baseline), an A/A run (field noise). */
  calibrate: { noShadow: boolean; aa: boolean; shadowConditions: boolean };
  thresholds: ThresholdConfig;
  expect: ScenarioSpec['expect'];
}

const TOP_KEYS = ['name', 'description', 'protocol', 'traffic', 'proxy', 'backends', 'replay', 'calibrate', 'thresholds', 'expect'];
const BACKEND_KEYS = ['latency', 'error_share', 'reset_share', 'ignore_body', 'changed_field', 'external'];

/** A backend of an HTTP scenario: simulated, or a real service reached through a recording tap. */
export type HttpScenarioBackend = { kind: 'simulated'; faults: HttpBackendFaults } | { kind: 'external'; url: string };

export function isHttpScenario(input: unknown): boolean {
  return typeof input === 'object' && input !== null && (input as Record<string, unknown>).protocol === 'http';
}

/** Parses an HTTP scenario from its YAML value; every fault names the file, the line and the key. */
export function parseHttpScenario(input: unknown, source: string, lineOf?: YamlSource['lineOf']): HttpScenarioSpec {
  const r = new YamlReader(source, lineOf);
  const root = r.mapping(input ?? {}, '(top level)');
  r.onlyKeys(root, '', TOP_KEYS);
  const name = r.text(root.name, 'name');
  if (!isSafeName(name)) throw r.error('name', `"${name}" is not a usable name: use ${NAME_RULE} (it names the run and its report folder)`);
  const backends = r.mapping(root.backends ?? {}, 'backends');
  r.onlyKeys(backends, 'backends', ['live', 'shadow', 'aa']);
  const calibrate = r.mapping(root.calibrate ?? {}, 'calibrate');
  r.onlyKeys(calibrate, 'calibrate', ['no_shadow', 'aa', 'shadow_conditions']);
  return {
    name,
    description: String(root.description ?? ''),
    protocol: 'http',
    traffic: parseTraffic(r, root.traffic),
    proxy: parseProxy(r, root.proxy),
    backends: {
      live: parseBackend(r, backends.live, 'backends.live'),
      shadow: parseBackend(r, backends.shadow, 'backends.shadow'),
      ...(backends.aa !== undefined && { aa: parseExternalOnly(r, backends.aa) }),
    },
    replay: parseReplay(r, root.replay, 'http'),
    calibrate: {
      noShadow: flag(r, calibrate.no_shadow, 'calibrate.no_shadow', true),
      aa: flag(r, calibrate.aa, 'calibrate.aa', true),
      shadowConditions: flag(r, calibrate.shadow_conditions, 'calibrate.shadow_conditions', true),
    },
    thresholds: parseThresholds(root.thresholds ?? {}, `${source}: thresholds`),
    expect: parseExpect(r, root.expect),
  };
}

function parseTraffic(r: YamlReader, value: unknown): HttpScenarioSpec['traffic'] {
  const traffic = r.mapping(value, 'traffic');
  r.onlyKeys(traffic, 'traffic', ['har', 'generate']);
  if (traffic.har !== undefined) return { har: r.text(traffic.har, 'traffic.har') };
  if (traffic.generate === undefined) throw r.error('traffic', 'needs har: (a HAR file) or generate: (a generated billing API)');
  const generate = r.mapping(traffic.generate, 'traffic.generate');
  r.onlyKeys(generate, 'traffic.generate', ['requests', 'mean_gap', 'seed']);
  return {
    generate: {
      requests: r.whole(generate.requests, 'traffic.generate.requests', 1, 10_000_000, 300),
      meanGapMs: generate.mean_gap === undefined ? 10 : r.duration(generate.mean_gap, 'traffic.generate.mean_gap'),
      seed: r.whole(generate.seed, 'traffic.generate.seed', 0, 2 ** 31, 1),
    },
  };
}

function parseProxy(r: YamlReader, value: unknown): HttpScenarioSpec['proxy'] {
  const proxy = r.mapping(value ?? { builtin: {} }, 'proxy');
  r.onlyKeys(proxy, 'proxy', ['builtin', 'external']);
  if (proxy.external !== undefined) {
    if (proxy.builtin !== undefined) throw r.error('proxy', 'takes builtin: or external:, not both');
    const external = r.mapping(proxy.external, 'proxy.external');
    r.onlyKeys(external, 'proxy.external', ['command', 'port', 'shadow_timeout', 'ready_timeout']);
    return {
      kind: 'external',
      command: r.text(external.command, 'proxy.external.command'),
      port: r.whole(external.port, 'proxy.external.port', 1, 65535, 18080),
      shadowTimeoutMs: external.shadow_timeout === undefined ? 2000 : r.duration(external.shadow_timeout, 'proxy.external.shadow_timeout'),
      readyTimeoutMs: parseReadyTimeout(r, external, 'proxy.external'),
    };
  }
  const builtin = r.mapping(proxy.builtin ?? {}, 'proxy.builtin');
  r.onlyKeys(builtin, 'proxy.builtin', ['shadow_timeout', 'empty_shadow_body', 'live_waits_for_shadow']);
  return {
    kind: 'builtin',
    shadowTimeoutMs: builtin.shadow_timeout === undefined ? 2000 : r.duration(builtin.shadow_timeout, 'proxy.builtin.shadow_timeout'),
    faults: {
      emptyShadowBody: flag(r, builtin.empty_shadow_body, 'proxy.builtin.empty_shadow_body', false),
      liveWaitsForShadow: flag(r, builtin.live_waits_for_shadow, 'proxy.builtin.live_waits_for_shadow', false),
    },
  };
}

function parseBackend(r: YamlReader, value: unknown, key: string): HttpScenarioBackend {
  const backend = r.mapping(value ?? {}, key);
  r.onlyKeys(backend, key, BACKEND_KEYS);
  if (backend.external !== undefined) {
    const faultKeys = Object.keys(backend).filter((k) => k !== 'external');
    if (faultKeys.length > 0) throw r.error(`${key}.${faultKeys[0] ?? ''}`, 'is a fault of a simulated backend; an external one is what it is');
    return { kind: 'external', url: httpUrl(r, backend.external, `${key}.external`) };
  }
  return { kind: 'simulated', faults: parseFaults(r, backend, key) };
}

function parseExternalOnly(r: YamlReader, value: unknown): HttpScenarioBackend {
  const aa = r.mapping(value, 'backends.aa');
  r.onlyKeys(aa, 'backends.aa', ['external']);
  return { kind: 'external', url: httpUrl(r, aa.external, 'backends.aa.external') };
}

function httpUrl(r: YamlReader, value: unknown, key: string): string {
  try {
    return parseHttpUrl(r.text(value, key));
  } catch (error) {
    throw r.valueError(key, (error as Error).message);
  }
}

function parseFaults(r: YamlReader, backend: Record<string, unknown>, key: string): HttpBackendFaults {
  const faults: HttpBackendFaults = {};
  if (backend.latency !== undefined) faults.latencyMs = r.duration(backend.latency, `${key}.latency`);
  if (backend.error_share !== undefined) faults.errorShare = r.share(backend.error_share, `${key}.error_share`);
  if (backend.reset_share !== undefined) faults.resetShare = r.share(backend.reset_share, `${key}.reset_share`);
  if (backend.ignore_body !== undefined) faults.ignoreBody = flag(r, backend.ignore_body, `${key}.ignore_body`, false);
  if (backend.changed_field !== undefined) {
    const changed = r.mapping(backend.changed_field, `${key}.changed_field`);
    r.onlyKeys(changed, `${key}.changed_field`, ['name', 'value']);
    faults.changedField = { name: r.text(changed.name, `${key}.changed_field.name`), value: (changed.value ?? null) as JsonValue };
  }
  return faults;
}

function flag(r: YamlReader, value: unknown, key: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw r.error(key, 'must be true or false');
  return value;
}
