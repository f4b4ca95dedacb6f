import type { MetricName } from './metric-names.ts';
import { readYamlFile } from '../core/yaml-file.ts';
import { ConfigError } from '../core/errors.ts';

/**
 * `inconclusive`: a value compared across runs whose uncertainty (the machine's own variation within the runs
 * compared) straddles a threshold's edge, so the harness cannot tell which side the system under test is on.
 */
export type MetricStatus = 'healthy' | 'warning' | 'critical' | 'inconclusive';

/**
 * For most metrics a value below `warning` is healthy, below `critical` a warning, else critical. For the metrics in
 * LOWER_IS_WORSE (a share of things that went right) it is the other way round: at or above `warning` is healthy.
 */
export interface Threshold {
  warning: number;
  critical: number;
}

/** The thresholded metrics; each applies per route, and per backend where it is a backend's. */
export const THRESHOLDED_METRICS = [
  'drop_rate',
  'ack_latency_p95_ms',
  'drift',
  'relay_queue',
  'ack_mismatch_rate',
  'unreached_rate',
  'extra_copy_rate',
  'unsent_payload_rate',
  'unasked_ack_rate',
  'junk_to_device_rate',
  'extra_ack_rate',
  'device_ack_rate',
  'device_ack_mismatch_rate',
  'relay_added_latency_p95_ms',
  'body_mismatch_rate',
  'request_mismatch_rate',
  'status_mismatch_rate',
  'response_mismatch_rate',
  'answer_latency_p95_ms',
  'live_latency_impact_p95_ms',
  'duplicate_rate',
  'reorder_rate',
  'pooler_drop_rate',
] as const satisfies readonly MetricName[];
export type ThresholdedMetric = (typeof THRESHOLDED_METRICS)[number];

/** Metrics that measure what went right: lower is worse. */
export const LOWER_IS_WORSE: ReadonlySet<ThresholdedMetric> = new Set(['device_ack_rate']);

/**
 * The first five are the fan-out specification's parity table (docs/reference-relay.md names its sources) plus ACK
 * mismatch; the next three are the relay's own faults a backend's leg shows, each at a backend's bar. The devices' view is judged as strictly as a backend, because a cutover owner signs for what the devices get:
 * - device_ack_rate: a device without its ACK retransmits or buffers; missing 0.1% is as bad as a backend losing 0.1%
 *   (drop_rate's warning), missing 1% is its critical.
 * - device_ack_mismatch_rate: a device handed another ACK than the reference backend's (the wrong side's, or altered
 *   on the way) is the same fault as two backends disagreeing, at the same bar.
 * - relay_added_latency_p95_ms: a relay forwards; on an idle host the reference relay adds well under a millisecond.
 *   Half the spec's 100 ms ACK budget spent in the relay is worth a look; 250 ms (half its critical budget) is a relay
 *   that will make devices time out under load.
 */
export const DEFAULT_THRESHOLDS: Record<ThresholdedMetric, Threshold> = {
  drop_rate: { warning: 0.001, critical: 0.01 },
  ack_latency_p95_ms: { warning: 100, critical: 500 },
  drift: { warning: 0.01, critical: 0.05 },
  relay_queue: { warning: 100, critical: 300 },
  ack_mismatch_rate: { warning: 0.0001, critical: 0.001 },
  // Packets that reached no backend are lost to the cutover as surely as a backend's: the relay is held to a backend's bar.
  unreached_rate: { warning: 0.001, critical: 0.01 },
  // A packet a backend got twice it processes twice (a count, an odometer): the relay's fault, at a backend's bar.
  extra_copy_rate: { warning: 0.001, critical: 0.01 },
  // Bytes no device sent reached a backend: altered on the way (truncated, rewritten) or sent by something else.
  unsent_payload_rate: { warning: 0.001, critical: 0.01 },
  // An ACK a device did not ask for is another device's answer (its data, leaked) or a second answer to one request:
  // what the devices are told, held to the bar of an ACK that differs from the reference's.
  unasked_ack_rate: { warning: 0.0001, critical: 0.001 },
  // A backend that answers one request twice tells its devices twice (a relay passes both on): a behaviour the new
  // backend must not add, nor silently drop if the old one had it; at the bar of a gateway's duplicates.
  extra_ack_rate: { warning: 0.001, critical: 0.01 },
  // Bytes a device cannot read that no backend sent were made on the way: what a device is told, at unasked ACKs' bar.
  junk_to_device_rate: { warning: 0.0001, critical: 0.001 },
  device_ack_rate: { warning: 0.999, critical: 0.99 },
  device_ack_mismatch_rate: { warning: 0.0001, critical: 0.001 },
  relay_added_latency_p95_ms: { warning: 50, critical: 250 },
  // HTTP (a shadowing proxy). A body or request altered on the way is the proxy's bug, not the new version's: held to
  // ACK mismatch's bar. Statuses may differ a little for transient reasons (a timeout on one side), answers not.
  body_mismatch_rate: { warning: 0.0001, critical: 0.001 },
  request_mismatch_rate: { warning: 0.0001, critical: 0.001 },
  status_mismatch_rate: { warning: 0.001, critical: 0.01 },
  response_mismatch_rate: { warning: 0.0001, critical: 0.001 },
  answer_latency_p95_ms: { warning: 100, critical: 500 },
  // "Zero latency impact", measured: what shadowing adds to the live p95 over a run with no shadow. Runs on a shared
  // machine differ by a few ms at p95 with nothing changed; 20 ms is past that, 50 ms is a shadow the live path waits on.
  live_latency_impact_p95_ms: { warning: 20, critical: 50 },
  // WebSocket fan-out: a gateway that processes a frame twice or out of order corrupts a telemetry stream as surely
  // as one that loses it; held to drop rate's bar.
  duplicate_rate: { warning: 0.001, critical: 0.01 },
  reorder_rate: { warning: 0.001, critical: 0.01 },
  // Postgres: a pooler that drops what it sampled (its queue full) leaves the mirror judged on less than was exposed,
  // and a mirror rehearsing a migration on a partial workload is the drop rate's fault by another name.
  pooler_drop_rate: { warning: 0.001, critical: 0.01 },
};

/** How far a metric may move against a baseline before it is a finding. */
export interface BaselineTolerance {
  /** Latency percentiles may rise by this share (0.2 = 20%)... */
  latencyIncrease: number;
  /**
   * ...or by this many milliseconds, whichever is more: a host's scheduling alone moves a sub-millisecond p95 by far
   * more than 20%, and a backend that answers in 0.3 ms instead of 0.2 ms has not regressed.
   */
  latencyFloorMs: number;
  /** Drop rate and ACK mismatch rate may rise by this much (absolute). */
  rateIncrease: number;
}

export const DEFAULT_BASELINE_TOLERANCE: BaselineTolerance = { latencyIncrease: 0.2, latencyFloorMs: 1, rateIncrease: 0.0005 };

export interface ThresholdConfig {
  defaults: Record<ThresholdedMetric, Threshold>;
  /** Per route port overrides. */
  routes: Record<string, Partial<Record<ThresholdedMetric, Threshold>>>;
  /** ACK fields allowed to differ between backends, beyond the protocol's own ignore-mask. */
  ignoreAckFields: string[];
  baselineTolerance: BaselineTolerance;
  /** A rate or ramp plan that achieved less than this share of its asked rate is a warning. */
  minReplayRateShare: number;
}

export function defaultThresholds(): ThresholdConfig {
  return {
    defaults: structuredClone(DEFAULT_THRESHOLDS),
    routes: {},
    ignoreAckFields: [],
    baselineTolerance: { ...DEFAULT_BASELINE_TOLERANCE },
    minReplayRateShare: 0.9,
  };
}

/**
 * Where a value known only to within `uncertainty` lies: either way of it, except for what the harness dropped on
 * arrival (`harness_drops`), which can only have made it look worse, so the truth lies towards better.
 */
export function rangeOf(m: { metric: string; value: number; uncertainty?: number | undefined; uncertaintySource?: string | undefined; bounds?: readonly [number, number] | undefined }): [number, number] {
  if (m.bounds !== undefined) return [m.bounds[0], m.bounds[1]];
  const u = m.uncertainty ?? 0;
  if (!isOneSided(m.uncertaintySource)) return [m.value - u, m.value + u];
  return LOWER_IS_WORSE.has(m.metric as ThresholdedMetric) ? [m.value, m.value + u] : [Math.max(0, m.value - u), m.value];
}

/**
 * Sources of uncertainty that can only have made a value look worse: what the harness's own sockets dropped, and
 * packets that reached a backend altered (counted as lost, yet they arrived).
 */
export const isOneSided = (source: string | undefined): boolean => source === 'harness_drops' || source === 'unsent_payloads';

/** The status of a value known only to lie between `low` and `high`: theirs when they agree, else inconclusive. */
export function classifyBetween(low: number, high: number, threshold: Threshold, metric?: ThresholdedMetric): MetricStatus {
  const status = classify(low, threshold, metric);
  return status === classify(high, threshold, metric) ? status : 'inconclusive';
}

export function classify(value: number, threshold: Threshold, metric?: ThresholdedMetric): Exclude<MetricStatus, 'inconclusive'> {
  if (metric !== undefined && LOWER_IS_WORSE.has(metric)) {
    if (value >= threshold.warning) return 'healthy';
    if (value >= threshold.critical) return 'warning';
    return 'critical';
  }
  if (value < threshold.warning) return 'healthy';
  if (value < threshold.critical) return 'warning';
  return 'critical';
}

export function thresholdFor(config: ThresholdConfig, metric: ThresholdedMetric, routePort: number | null): Threshold {
  if (routePort !== null) {
    const override = config.routes[String(routePort)]?.[metric];
    if (override !== undefined) return override;
  }
  return config.defaults[metric];
}

/**
 * Reads a thresholds YAML file:
 * ```yaml
 * drop_rate: { warning: 0.001, critical: 0.01 }
 * routes:
 *   20500:
 *     ack_latency_p95_ms: { warning: 200, critical: 800 }
 * ignore_ack_fields: [appVersion]
 * baseline_tolerance: { latency_increase: 0.2, latency_floor_ms: 1, rate_increase: 0.0005 }
 * ```
 * Unknown keys are errors naming the key, so a typo never silently falls back to a default.
 */
export async function loadThresholds(path: string): Promise<ThresholdConfig> {
  return parseThresholds((await readYamlFile(path)) ?? {}, path);
}

export function parseThresholds(input: unknown, source: string): ThresholdConfig {
  const config = defaultThresholds();
  const root = asObject(input, source, '(top level)');
  for (const [key, value] of Object.entries(root)) {
    if (isMetric(key)) config.defaults[key] = parseThreshold(value, source, key, key);
    else if (key === 'routes') {
      for (const [port, overrides] of Object.entries(asObject(value, source, 'routes'))) {
        if (!/^\d+$/.test(port)) throw new ConfigError(`${source}: routes.${port}: route keys are port numbers`, { file: source, field: `routes.${port}` });
        const route: Partial<Record<ThresholdedMetric, Threshold>> = {};
        for (const [metric, threshold] of Object.entries(asObject(overrides, source, `routes.${port}`))) {
          if (!isMetric(metric)) throw unknownKey(source, `routes.${port}.${metric}`);
          route[metric] = parseThreshold(threshold, source, `routes.${port}.${metric}`, metric);
        }
        config.routes[port] = route;
      }
    } else if (key === 'ignore_ack_fields') {
      if (!Array.isArray(value) || value.some((field) => typeof field !== 'string')) {
        throw new ConfigError(`${source}: ignore_ack_fields must be a list of field names`, { file: source, field: key });
      }
      config.ignoreAckFields = value as string[];
    } else if (key === 'baseline_tolerance') {
      const tolerance = asObject(value, source, key);
      for (const [name, number] of Object.entries(tolerance)) {
        if (typeof number !== 'number' || number < 0) throw new ConfigError(`${source}: baseline_tolerance.${name} must be a number >= 0`, { file: source, field: `baseline_tolerance.${name}` });
        if (name === 'latency_increase') config.baselineTolerance.latencyIncrease = number;
        else if (name === 'latency_floor_ms') config.baselineTolerance.latencyFloorMs = number;
        else if (name === 'rate_increase') config.baselineTolerance.rateIncrease = number;
        else throw unknownKey(source, `baseline_tolerance.${name}`);
      }
    } else if (key === 'min_replay_rate_share') {
      if (typeof value !== 'number' || value < 0 || value > 1) throw new ConfigError(`${source}: min_replay_rate_share must be between 0 and 1`, { file: source, field: key });
      config.minReplayRateShare = value;
    } else {
      throw unknownKey(source, key);
    }
  }
  return config;
}

function isMetric(key: string): key is ThresholdedMetric {
  return (THRESHOLDED_METRICS as readonly string[]).includes(key);
}

function parseThreshold(value: unknown, source: string, field: string, metric: ThresholdedMetric): Threshold {
  const object = asObject(value, source, field);
  const { warning, critical } = object;
  if (typeof warning !== 'number' || typeof critical !== 'number') {
    throw new ConfigError(`${source}: ${field} needs numbers for both warning and critical`, { file: source, field });
  }
  if (LOWER_IS_WORSE.has(metric)) {
    if (critical > warning) throw new ConfigError(`${source}: ${field}: lower is worse here, so critical (${critical}) must not be above warning (${warning})`, { file: source, field });
  } else if (critical < warning) throw new ConfigError(`${source}: ${field}: critical (${critical}) is below warning (${warning})`, { file: source, field });
  const extra = Object.keys(object).filter((k) => k !== 'warning' && k !== 'critical');
  if (extra.length > 0) throw unknownKey(source, `${field}.${extra[0]}`);
  return { warning, critical };
}

function asObject(value: unknown, source: string, field: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`${source}: ${field} must be a mapping`, { file: source, field });
  }
  return value as Record<string, unknown>;
}

function unknownKey(source: string, key: string): ConfigError {
  return new ConfigError(
    `${source}: unknown key "${key}" (known: ${THRESHOLDED_METRICS.join(', ')}, routes, ignore_ack_fields, baseline_tolerance, min_replay_rate_share)`,
    { file: source, field: key },
  );
}

/**
 * Thresholds as a run stored them (a ThresholdConfig written as JSON), or null when it stored none. Metrics added since
 * take their defaults; a stored value of the wrong shape is ignored for the default, never half-read.
 */
export function reviveThresholds(value: unknown): ThresholdConfig | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const stored = value as Partial<Record<keyof ThresholdConfig, unknown>>;
  const config = defaultThresholds();
  const isThreshold = (t: unknown): t is Threshold => t !== null && typeof t === 'object' && typeof (t as Threshold).warning === 'number' && typeof (t as Threshold).critical === 'number';
  if (stored.defaults !== null && typeof stored.defaults === 'object') {
    for (const [metric, threshold] of Object.entries(stored.defaults as Record<string, unknown>)) {
      if (isMetric(metric) && isThreshold(threshold)) config.defaults[metric] = { warning: threshold.warning, critical: threshold.critical };
    }
  }
  if (stored.routes !== null && typeof stored.routes === 'object') {
    for (const [port, overrides] of Object.entries(stored.routes as Record<string, unknown>)) {
      if (overrides === null || typeof overrides !== 'object') continue;
      const route: Partial<Record<ThresholdedMetric, Threshold>> = {};
      for (const [metric, threshold] of Object.entries(overrides as Record<string, unknown>)) if (isMetric(metric) && isThreshold(threshold)) route[metric] = threshold;
      config.routes[port] = route;
    }
  }
  if (Array.isArray(stored.ignoreAckFields)) config.ignoreAckFields = stored.ignoreAckFields.filter((f): f is string => typeof f === 'string');
  const tolerance = stored.baselineTolerance as Partial<BaselineTolerance> | undefined;
  if (typeof tolerance?.latencyIncrease === 'number') config.baselineTolerance.latencyIncrease = tolerance.latencyIncrease;
  if (typeof tolerance?.latencyFloorMs === 'number') config.baselineTolerance.latencyFloorMs = tolerance.latencyFloorMs;
  if (typeof tolerance?.rateIncrease === 'number') config.baselineTolerance.rateIncrease = tolerance.rateIncrease;
  if (typeof stored.minReplayRateShare === 'number') config.minReplayRateShare = stored.minReplayRateShare;
  return config;
}
