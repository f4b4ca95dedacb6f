import { ConfigError } from '../../core/errors.ts';

/**
 * The relay agent's configuration, every `RELAY_*` variable of ../shared/specs/parallel-fanout-kill-switch-parity.md
 * with the spec's defaults, plus where frames come in (`RELAY_INGEST_PORT`, the local ingest the replayer feeds).
 */
export interface AgentConfig {
  backends: string[];
  mode: 'single' | 'parallel';
  primaryIndex: number;
  targetTimeoutMs: number;
  sendTimeoutMs: number;
  killSwitch: boolean;
  /** One flag per backend; a backend beyond the list is enabled. */
  targetsEnabled: boolean[];
  paritySampleRate: number;
  debugPort: number;
  /** Frames a target may have waiting before more are dropped (and counted). */
  queueLimit: number;
  ingestPort: number;
  /** A bug on purpose, for scenarios that show the playbook checks catch it: the kill switch stops nothing. */
  killSwitchLeaks?: boolean;
  /** A bug on purpose: for this long after applying a control plane's snapshot, frames that come in are dropped (ms). */
  dropsOnSwapMs?: number;
  /** A control plane's /connect (ws://): the settings then come from its snapshots, these being the bootstrap. */
  controlPlaneUrl?: string;
  /** This agent's name to the control plane, and the version of its bootstrap settings. */
  name: string;
  configVersion: string;
}

export const AGENT_DEFAULTS = {
  RELAY_BACKEND_MODE: 'single',
  RELAY_PRIMARY_INDEX: '0',
  RELAY_TARGET_TIMEOUT_MS: '1500',
  RELAY_SEND_TIMEOUT_MS: '250',
  RELAY_KILL_SWITCH: '0',
  RELAY_PARITY_SAMPLE_RATE: '0.05',
  RELAY_DEBUG_PORT: '8765',
  RELAY_QUEUE_LIMIT: '1000',
  RELAY_INGEST_PORT: '8766',
  RELAY_AGENT_NAME: 'relay-agent',
  RELAY_CONFIG_VERSION: '0.0.1',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the configuration from the environment; a bad value is one error naming the variable and what it takes. */
export function readAgentConfig(env: Env): AgentConfig {
  const value = (name: keyof typeof AGENT_DEFAULTS | 'RELAY_BACKENDS' | 'RELAY_TARGETS_ENABLED' | 'RELAY_CONTROL_PLANE_URL' | 'CONTROL_PLANE_URL'): string | undefined => {
    const given = env[name];
    return given === undefined || given.trim() === '' ? (AGENT_DEFAULTS as Record<string, string>)[name] : given.trim();
  };
  const backends = (value('RELAY_BACKENDS') ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  if (backends.length === 0) throw invalid('RELAY_BACKENDS', '', 'a comma-separated list of ws:// or wss:// URLs');
  for (const url of backends) if (!/^wss?:\/\/[^/\s]+/.test(url)) throw invalid('RELAY_BACKENDS', url, 'ws:// or wss:// URLs');
  const mode = value('RELAY_BACKEND_MODE');
  if (mode !== 'single' && mode !== 'parallel') throw invalid('RELAY_BACKEND_MODE', mode ?? '', "'single' or 'parallel'");
  const primaryIndex = whole('RELAY_PRIMARY_INDEX', value('RELAY_PRIMARY_INDEX'), 0, backends.length - 1);
  const enabled = value('RELAY_TARGETS_ENABLED');
  const targetsEnabled = enabled === undefined ? backends.map(() => true) : enabled.split(',').map((flag) => flag01('RELAY_TARGETS_ENABLED', flag.trim()));
  const rate = Number(value('RELAY_PARITY_SAMPLE_RATE'));
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw invalid('RELAY_PARITY_SAMPLE_RATE', value('RELAY_PARITY_SAMPLE_RATE') ?? '', 'a fraction from 0 to 1');
  // The control-plane spec names it CONTROL_PLANE_URL; RELAY_CONTROL_PLANE_URL wins where both are set.
  const controlPlaneUrl = value('RELAY_CONTROL_PLANE_URL') ?? value('CONTROL_PLANE_URL');
  if (controlPlaneUrl !== undefined && !/^wss?:\/\/[^/\s]+/.test(controlPlaneUrl)) throw invalid(env.RELAY_CONTROL_PLANE_URL === undefined ? 'CONTROL_PLANE_URL' : 'RELAY_CONTROL_PLANE_URL', controlPlaneUrl, 'a ws:// or wss:// URL, e.g. ws://127.0.0.1:8081/connect');
  return {
    ...(controlPlaneUrl !== undefined && { controlPlaneUrl }),
    name: value('RELAY_AGENT_NAME') ?? AGENT_DEFAULTS.RELAY_AGENT_NAME,
    configVersion: value('RELAY_CONFIG_VERSION') ?? AGENT_DEFAULTS.RELAY_CONFIG_VERSION,
    backends,
    mode,
    primaryIndex,
    targetTimeoutMs: whole('RELAY_TARGET_TIMEOUT_MS', value('RELAY_TARGET_TIMEOUT_MS'), 1, 600_000),
    sendTimeoutMs: whole('RELAY_SEND_TIMEOUT_MS', value('RELAY_SEND_TIMEOUT_MS'), 1, 600_000),
    killSwitch: flag01('RELAY_KILL_SWITCH', value('RELAY_KILL_SWITCH') ?? '0'),
    targetsEnabled,
    paritySampleRate: rate,
    debugPort: whole('RELAY_DEBUG_PORT', value('RELAY_DEBUG_PORT'), 0, 65_535),
    queueLimit: whole('RELAY_QUEUE_LIMIT', value('RELAY_QUEUE_LIMIT'), 1, 10_000_000),
    ingestPort: whole('RELAY_INGEST_PORT', value('RELAY_INGEST_PORT'), 0, 65_535),
  };
}

function whole(name: string, text: string | undefined, min: number, max: number): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < min || n > max) throw invalid(name, text ?? '', `a whole number from ${min} to ${max}`);
  return n;
}

function flag01(name: string, text: string): boolean {
  if (text !== '0' && text !== '1') throw invalid(name, text, "'0' or '1'");
  return text === '1';
}

function invalid(name: string, value: string, wanted: string): ConfigError {
  return new ConfigError(`${name}="${value}": takes ${wanted}`, { field: name });
}
