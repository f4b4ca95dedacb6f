import { ConfigError } from '../core/errors.ts';
import { isIpv4 } from '../core/ip-address.ts';

/**
 * Reads values out of a parsed YAML document, each fault a ConfigError naming the file and the key
 * (`scenario.yaml: replay.loop must be a whole number from 1 to 1000000`).
 */
export class YamlReader {
  constructor(
    readonly source: string,
    private readonly parseDurationMs: (text: string) => number,
    private readonly parseFraction: (text: string) => number,
  ) {}

  error(key: string, problem: string): ConfigError {
    return new ConfigError(`${this.source}: ${key} ${problem}`, { file: this.source, field: key });
  }

  mapping(value: unknown, key: string): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw this.error(key, 'must be a mapping');
    return value as Record<string, unknown>;
  }

  onlyKeys(value: Record<string, unknown>, key: string, allowed: readonly string[]): void {
    const extra = Object.keys(value).find((k) => !allowed.includes(k));
    if (extra !== undefined) throw this.error(`${key === '' ? '' : `${key}.`}${extra}`, `is not a known key (known: ${allowed.join(', ')})`);
  }

  text(value: unknown, key: string): string {
    if (typeof value !== 'string' || value === '') throw this.error(key, 'must be a non-empty string');
    return value;
  }

  duration(value: unknown, key: string): number {
    try {
      return this.parseDurationMs(String(value));
    } catch {
      throw this.error(key, `"${String(value)}" is not a duration (e.g. 500ms, 20s, 2m)`);
    }
  }

  share(value: unknown, key: string): number {
    try {
      return this.parseFraction(String(value));
    } catch {
      throw this.error(key, `"${String(value)}" is not a share (e.g. 2%, 0.02)`);
    }
  }

  address(value: unknown, key: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !isIpv4(value)) throw this.error(key, `"${String(value)}" is not an IPv4 address`);
    return value;
  }

  whole(value: unknown, key: string, min: number, max: number, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw this.error(key, `must be a whole number from ${min} to ${max}`);
    return value;
  }

  /** Durations as the CLI reads them (`250ms`, `2s`), for parsers that take the function itself. */
  get durationParser(): (text: string) => number {
    return this.parseDurationMs;
  }
}
