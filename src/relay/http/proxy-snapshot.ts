import { ConfigError } from '../../core/errors.ts';

/** What a control plane's snapshot sets in the shadowing proxy: where requests go. */
export interface ProxyRouting {
  live: string;
  shadow: string | null;
  shadowTimeoutMs: number;
}

const KEYS = ['version', 'live', 'shadow', 'shadowTimeoutMs'];

/**
 * Checks a shadowing proxy's configuration snapshot, all or nothing: `version` a non-empty string, `live` an http(s)
 * URL, `shadow` one or null (no shadow), `shadowTimeoutMs` optional (1 ms to 10 min; the proxy's own default when
 * left out). An unknown key is refused.
 */
export function validateProxySnapshot(config: Record<string, unknown>, defaultShadowTimeoutMs = 2000): ProxyRouting {
  const unknown = Object.keys(config).find((key) => !KEYS.includes(key));
  if (unknown !== undefined) throw invalid(unknown, `is not a setting of the shadowing proxy (${KEYS.join(', ')})`);
  if (typeof config.version !== 'string' || config.version.trim() === '') throw invalid('version', 'must be a non-empty string');
  const live = httpUrl(config.live, 'live');
  if (live === null) throw invalid('live', 'must be an http:// or https:// URL');
  const shadow = config.shadow === null ? null : httpUrl(config.shadow, 'shadow');
  if (config.shadow !== null && shadow === null) throw invalid('shadow', 'must be an http:// or https:// URL, or null for no shadow');
  const timeout = config.shadowTimeoutMs ?? defaultShadowTimeoutMs;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > 600_000) throw invalid('shadowTimeoutMs', 'must be a whole number of ms from 1 to 600000');
  return { live, shadow, shadowTimeoutMs: timeout };
}

function httpUrl(value: unknown, field: string): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? value : null;
  } catch {
    throw invalid(field, `"${value}" is not a URL`);
  }
}

function invalid(field: string, why: string): ConfigError {
  return new ConfigError(`${field}: ${why}`, { field });
}
