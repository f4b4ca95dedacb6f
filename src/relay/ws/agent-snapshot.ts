import { ConfigError } from '../../core/errors.ts';
import type { AgentConfig } from './agent-config.ts';

/** What a control plane's snapshot sets in a relay agent: the settings a cutover playbook changes. */
export type AgentSettings = Pick<AgentConfig, 'mode' | 'primaryIndex' | 'targetsEnabled' | 'killSwitch' | 'paritySampleRate'>;

const KEYS = ['version', 'mode', 'primaryIndex', 'targetsEnabled', 'killSwitch', 'paritySampleRate', 'backends'];

/**
 * Checks a relay agent's configuration snapshot, all or nothing (the spec's validation before anything is applied):
 * `version` a non-empty string, `mode` single or parallel, `primaryIndex` one of the backends, `targetsEnabled` one
 * flag per backend, `killSwitch` true or false, `paritySampleRate` from 0 to 1, each required; `backends`, when
 * given, the agent's own list (its targets are fixed for its life). An unknown key is refused: a typo must not pass
 * for a setting. `backends` is the agent's list when it checks; unknown to a control plane that checks first.
 */
export function validateAgentSnapshot(config: Record<string, unknown>, backends?: readonly string[]): AgentSettings {
  const unknown = Object.keys(config).find((key) => !KEYS.includes(key));
  if (unknown !== undefined) throw invalid(unknown, `is not a setting of the relay agent (${KEYS.join(', ')})`);
  if (typeof config.version !== 'string' || config.version.trim() === '') throw invalid('version', 'must be a non-empty string');
  if (config.mode !== 'single' && config.mode !== 'parallel') throw invalid('mode', "must be 'single' or 'parallel'");
  const count = backends?.length ?? (Array.isArray(config.targetsEnabled) ? config.targetsEnabled.length : undefined);
  const primaryIndex = config.primaryIndex;
  if (typeof primaryIndex !== 'number' || !Number.isInteger(primaryIndex) || primaryIndex < 0 || (count !== undefined && primaryIndex >= count)) throw invalid('primaryIndex', `must be the index of a backend${count === undefined ? '' : `, 0 to ${count - 1}`}`);
  const enabled = config.targetsEnabled;
  if (!Array.isArray(enabled) || enabled.some((flag) => typeof flag !== 'boolean') || (count !== undefined && enabled.length !== count)) throw invalid('targetsEnabled', `must be a list of true/false, one per backend${count === undefined ? '' : ` (${count})`}`);
  if (typeof config.killSwitch !== 'boolean') throw invalid('killSwitch', 'must be true or false');
  const rate = config.paritySampleRate;
  if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw invalid('paritySampleRate', 'must be a fraction from 0 to 1');
  if (config.backends !== undefined && backends !== undefined && JSON.stringify(config.backends) !== JSON.stringify(backends)) {
    throw invalid('backends', `differs from the agent's (${backends.join(',')}): its targets are set when it starts`);
  }
  return { mode: config.mode, primaryIndex, targetsEnabled: enabled as boolean[], killSwitch: config.killSwitch, paritySampleRate: rate };
}

/** The snapshot that sets these settings, under a version. */
export function agentSnapshot(version: string, settings: AgentSettings): Record<string, unknown> & { version: string } {
  return { version, ...settings, targetsEnabled: [...settings.targetsEnabled] };
}

function invalid(field: string, why: string): ConfigError {
  return new ConfigError(`${field}: ${why}`, { field });
}
