import { ConfigError } from '../core/errors.ts';
import { isIpv4 } from '../core/ip-address.ts';
import { parseDurationMs, parseFraction } from '../core/values.ts';
import { keyPath, type YamlSource } from '../core/yaml-file.ts';

/**
 * Reads values out of a parsed YAML document, each fault a ConfigError naming the file, the line where it can be read
 * and the key (`scenario.yaml:12: replay.loop: "0" is not a whole number from 1 to 1000000`).
 */
export class YamlReader {
  constructor(
    readonly source: string,
    private readonly lineOf: YamlSource['lineOf'] = () => undefined,
  ) {}

  /** A fault of the key itself, read after it: `replay must be a mapping`. */
  error(key: string, problem: string): ConfigError {
    return this.fault(key, `${key} ${problem}`);
  }

  /** A fault of the key's value, as the value's parser says it: `replay.loop: "0" is not a whole number ...`. */
  valueError(key: string, problem: string): ConfigError {
    return this.fault(key, `${key}: ${problem}`);
  }

  private fault(key: string, message: string): ConfigError {
    const line = key === '' ? undefined : this.lineOf(keyPath(key));
    const where = line === undefined ? this.source : `${this.source}:${line}`;
    return new ConfigError(`${where}: ${message}`, { file: this.source, field: key, ...(line !== undefined && { line }) });
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
      return parseDurationMs(String(value));
    } catch {
      throw this.error(key, `"${String(value)}" is not a duration (e.g. 500ms, 20s, 2m)`);
    }
  }

  share(value: unknown, key: string): number {
    try {
      return parseFraction(String(value));
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
}
