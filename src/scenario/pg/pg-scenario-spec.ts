import { parseThresholds, type ThresholdConfig } from '../../analyse/thresholds.ts';
import { isSafeName, NAME_RULE } from '../../core/names.ts';
import type { YamlSource } from '../../core/yaml-file.ts';
import { PG_WORKLOAD_SCHEMA } from '../../synthetic/pg-workload.ts';
import type { ScenarioSpec } from '../scenario-spec.ts';
import { parseExpect, parseReplay } from '../scenario-sections.ts';
import { parseReadyTimeout } from '../external-process.ts';
import { YamlReader } from '../yaml-reader.ts';

/** A validation of a Postgres mirror (`protocol: pg`): two real databases behind the reference mirroring pooler. */
export interface PgScenarioSpec {
  name: string;
  description: string;
  protocol: 'pg';
  /** SQL run on both databases before the run (the recorded schema). */
  schema: string;
  /** SQL run on the mirror only, after `schema` (the migration under test). */
  mirrorSchema: string;
  traffic: { recording: string } | { generate: { sessions: number; statements: number; gapMs: number; seed: number } };
  /** The reference pooler, or the team's own (`external`: a command given the addresses in its environment). */
  pooler: { exposure: number; queue: number; mirrorTimeoutMs: number; external?: { command: string; port: number; metricsPort: number; metrics: boolean; readyTimeoutMs: number } };
  /**
   * Runs before the run under test: one through a pooler that mirrors nothing (the live path's latency without
   * mirroring), and an A/A run (the mirror without its migration) whose result differences are noise.
   */
  calibrate: { noMirror: boolean; aa: boolean };
  replay: ScenarioSpec['replay'];
  /** The mirror database stopped and started again at times into the replay (an outage the pooler must count). */
  timeline: { atMs: number; mirror: 'down' | 'up' }[];
  thresholds: ThresholdConfig;
  expect: ScenarioSpec['expect'];
}

const TOP_KEYS = ['name', 'description', 'protocol', 'schema', 'mirror_schema', 'traffic', 'pooler', 'calibrate', 'replay', 'timeline', 'thresholds', 'expect'];

export function isPgScenario(input: unknown): boolean {
  return typeof input === 'object' && input !== null && (input as Record<string, unknown>).protocol === 'pg';
}

export function parsePgScenario(input: unknown, source: string, lineOf?: YamlSource['lineOf']): PgScenarioSpec {
  const r = new YamlReader(source, lineOf);
  const root = r.mapping(input ?? {}, '(top level)');
  r.onlyKeys(root, '', TOP_KEYS);
  const name = r.text(root.name, 'name');
  if (!isSafeName(name)) throw r.error('name', `"${name}" is not a usable name: use ${NAME_RULE} (it names the run and its report folder)`);
  const traffic = parseTraffic(r, root.traffic);
  return {
    name,
    description: String(root.description ?? ''),
    protocol: 'pg',
    schema: root.schema === undefined ? ('generate' in traffic ? PG_WORKLOAD_SCHEMA : '') : r.text(root.schema, 'schema'),
    mirrorSchema: root.mirror_schema === undefined ? '' : r.text(root.mirror_schema, 'mirror_schema'),
    traffic,
    pooler: parsePooler(r, root.pooler),
    calibrate: parseCalibrate(r, root.calibrate),
    replay: parseReplay(r, root.replay, 'pg'),
    timeline: parseTimeline(r, root.timeline),
    thresholds: parseThresholds(root.thresholds ?? {}, `${source}: thresholds`),
    expect: parseExpect(r, root.expect),
  };
}

function parseTraffic(r: YamlReader, value: unknown): PgScenarioSpec['traffic'] {
  const traffic = r.mapping(value, 'traffic');
  r.onlyKeys(traffic, 'traffic', ['recording', 'generate']);
  if (traffic.recording !== undefined) return { recording: r.text(traffic.recording, 'traffic.recording') };
  if (traffic.generate === undefined) throw r.error('traffic', 'needs recording: (a pcap / pcapng of PostgreSQL sessions, or a csvlog) or generate:');
  const g = r.mapping(traffic.generate, 'traffic.generate');
  r.onlyKeys(g, 'traffic.generate', ['sessions', 'statements', 'gap', 'seed']);
  return {
    generate: {
      sessions: r.whole(g.sessions, 'traffic.generate.sessions', 1, 10_000, 8),
      statements: r.whole(g.statements, 'traffic.generate.statements', 1, 1_000_000, 50),
      gapMs: g.gap === undefined ? 20 : r.duration(g.gap, 'traffic.generate.gap'),
      seed: r.whole(g.seed, 'traffic.generate.seed', 0, 2 ** 31, 1),
    },
  };
}

/** `timeline:` steps `{ at: 2s, mirror: down }` and `{ at: 4s, mirror: up }`, in order. */
function parseTimeline(r: YamlReader, value: unknown): PgScenarioSpec['timeline'] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw r.error('timeline', 'must be a list of steps');
  const steps = value.map((entry: unknown, index: number) => {
    const at = `timeline[${index}]`;
    const step = r.mapping(entry, at);
    r.onlyKeys(step, at, ['at', 'mirror']);
    if (step.mirror !== 'down' && step.mirror !== 'up') throw r.error(`${at}.mirror`, "must be 'down' (the mirror database stopped) or 'up' (started again)");
    return { atMs: r.duration(step.at, `${at}.at`), mirror: step.mirror as 'down' | 'up' };
  });
  for (let i = 1; i < steps.length; i++) if ((steps[i]?.atMs ?? 0) <= (steps[i - 1]?.atMs ?? 0)) throw r.error(`timeline[${i}].at`, 'must come after the step before it');
  return steps;
}

function parseCalibrate(r: YamlReader, value: unknown): PgScenarioSpec['calibrate'] {
  const calibrate = r.mapping(value ?? {}, 'calibrate');
  r.onlyKeys(calibrate, 'calibrate', ['no_mirror', 'aa']);
  for (const key of ['no_mirror', 'aa'] as const) if (calibrate[key] !== undefined && typeof calibrate[key] !== 'boolean') throw r.error(`calibrate.${key}`, 'must be true or false');
  return { noMirror: calibrate.no_mirror !== false, aa: calibrate.aa !== false };
}

function parsePooler(r: YamlReader, value: unknown): PgScenarioSpec['pooler'] {
  const pooler = r.mapping(value ?? {}, 'pooler');
  r.onlyKeys(pooler, 'pooler', ['mirror_exposure', 'mirror_queue', 'mirror_timeout', 'external']);
  return {
    exposure: pooler.mirror_exposure === undefined ? 1 : r.share(pooler.mirror_exposure, 'pooler.mirror_exposure'),
    queue: r.whole(pooler.mirror_queue, 'pooler.mirror_queue', 1, 10_000_000, 1000),
    mirrorTimeoutMs: pooler.mirror_timeout === undefined ? 5000 : r.duration(pooler.mirror_timeout, 'pooler.mirror_timeout'),
    ...(pooler.external !== undefined && { external: parseExternalPooler(r, pooler.external) }),
  };
}

function parseExternalPooler(r: YamlReader, value: unknown): NonNullable<PgScenarioSpec['pooler']['external']> {
  const external = r.mapping(value, 'pooler.external');
  r.onlyKeys(external, 'pooler.external', ['command', 'port', 'metrics_port', 'metrics', 'ready_timeout']);
  if (external.metrics !== undefined && typeof external.metrics !== 'boolean') throw r.error('pooler.external.metrics', 'must be true or false (whether it serves the spec\'s /metrics)');
  return {
    command: r.text(external.command, 'pooler.external.command'),
    port: r.whole(external.port, 'pooler.external.port', 1, 65535, 16432),
    metricsPort: r.whole(external.metrics_port, 'pooler.external.metrics_port', 1, 65535, 19187),
    metrics: external.metrics !== false,
    readyTimeoutMs: parseReadyTimeout(r, external, 'pooler.external'),
  };
}
