/** Values as people write them on a command line or in a YAML file: ports, durations, shares, names, addresses. */
import { isIP } from 'node:net';
import { isSafeName, NAME_RULE } from './names.ts';

/**
 * A value that does not read as what it should be. The message says what was wrong with the value; whoever read it adds
 * where it came from (a flag, a YAML key and its line).
 */
export class ValueError extends Error {
  readonly code = 'PARITY_ERR_VALUE';
}

/** `20500,20501` -> [20500, 20501]; ports are 1-65535. */
export function parsePortList(value: string): number[] {
  const ports = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (ports.length === 0) throw new ValueError('expected a comma-separated list of ports, e.g. 20500,20501');
  return ports.map((part) => {
    const port = Number(part);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ValueError(`"${part}" is not a port (1-65535)`);
    }
    return port;
  });
}

const DURATION_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * `250ms`, `2s`, `1.5m`, `100us` -> milliseconds. A bare number other than 0 is refused: `200` could mean 200 ms or
 * 200 s, and guessing wrong makes a replay wait minutes or not at all.
 */
export function parseDurationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?$/.exec(value.trim());
  if (match === null) throw new ValueError(`"${value}" is not a duration (e.g. 250ms, 2s, 1m)`);
  const unit = match[2];
  if (unit === undefined) {
    if (Number(match[1]) === 0) return 0;
    throw new ValueError(`"${value}" has no unit: write ${match[1]}ms or ${match[1]}s`);
  }
  return Number(match[1]) * (DURATION_UNITS_MS[unit] ?? 1000);
}

/** `0.1%` -> 0.001; `0.001` -> 0.001. Must be within 0..1. */
export function parseFraction(value: string): number {
  const trimmed = value.trim();
  const percent = trimmed.endsWith('%');
  const number = Number(percent ? trimmed.slice(0, -1) : trimmed);
  const fraction = percent ? number / 100 : number;
  if (!Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
    throw new ValueError(`"${value}" is not a share between 0% and 100% (e.g. 0.1%)`);
  }
  return fraction;
}

/** `1.2.3` -> [1, 2, 3], each 0-255 (CalAmp's 3-byte app version). */
export function parseVersion(value: string): [number, number, number] {
  const parts = value.split('.').map(Number);
  if (parts.length !== 3 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new ValueError(`"${value}" is not a version a.b.c with each part 0-255`);
  }
  return parts as [number, number, number];
}

/** `127.0.0.2:20500,20501` -> { ip, ports }. */
export function parseListen(value: string): { ip: string; ports: number[] } {
  const at = value.lastIndexOf(':');
  const ip = at > 0 ? value.slice(0, at).replace(/^\[|\]$/g, '') : '';
  if (ip === '') throw new ValueError(`"${value}" is not IP:PORT[,PORT...] (e.g. 127.0.0.2:20500)`);
  return { ip, ports: parsePortList(value.slice(at + 1)) };
}

/** A port to listen on: 0 asks the system for any free one. */
export function parseListenPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ValueError(`"${value}" is not a port (0-65535; 0: any free port)`);
  return port;
}

export function parseInteger(value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new ValueError(`"${value}" is not an integer`);
  return number;
}

/** A run or capture name: it becomes a folder name and appears in every report, so it keeps to a safe set. */
export function parseName(value: string): string {
  if (!isSafeName(value)) throw new ValueError(`"${value}" is not a usable name: use ${NAME_RULE}`);
  return value;
}

/** `10.9.0.1,10.9.0.5` -> addresses; each must be an IPv4 or IPv6 address. */
export function parseIpList(value: string): string[] {
  const ips = value.split(',').map((part) => part.trim()).filter((part) => part !== '');
  if (ips.length === 0) throw new ValueError('expected a comma-separated list of IP addresses, e.g. 10.9.0.1');
  for (const ip of ips) if (isIP(ip) === 0) throw new ValueError(`"${ip}" is not an IP address`);
  return ips;
}

/** `http://127.0.0.2:8081` -> the URL as given; http or https, with a host. */
export function parseHttpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValueError(`"${value}" is not a URL (e.g. http://127.0.0.2:8081)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.host === '') throw new ValueError(`"${value}" is not an http:// or https:// URL with a host`);
  return value;
}

/** `ws://127.0.0.1:8081/connect` -> the URL as given; ws or wss, with a host. */
export function parseWsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValueError(`"${value}" is not a URL (e.g. ws://127.0.0.1:8081/connect)`);
  }
  if ((url.protocol !== 'ws:' && url.protocol !== 'wss:') || url.host === '') throw new ValueError(`"${value}" is not a ws:// or wss:// URL with a host`);
  return value;
}

/** `currency=EUR` -> { name, value } (the value as JSON when it reads as JSON, else as text). */
export function parseFieldChange(value: string): { name: string; value: string | number | boolean | null } {
  const at = value.indexOf('=');
  if (at <= 0) throw new ValueError(`"${value}" is not FIELD=VALUE (e.g. currency=EUR)`);
  const text = value.slice(at + 1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  const scalar = typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean' || parsed === null ? parsed : text;
  return { name: value.slice(0, at), value: scalar };
}

/** `postgres://host:port`, `postgresql://host:port` or `host:port` -> where to connect. */
export function pgTarget(value: string): { host: string; port: number } | undefined {
  const m = /^(?:postgres(?:ql)?:\/\/(?:[^@/]*@)?)?(\[[^\]]+\]|[^:/\s]+):(\d{1,5})\/?[^\s]*$/.exec(value);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65_535) return undefined;
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port };
}
