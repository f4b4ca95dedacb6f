/** Human-readable renderings shared by the CLI and the reports. */

/** ISO 8601 UTC time of a nanosecond epoch timestamp, to the microsecond. */
export function formatEpochNs(tsNs: bigint | null): string {
  if (tsNs === null) return '-';
  const ms = Number(tsNs / 1_000_000n);
  const micros = Number((tsNs / 1000n) % 1000n);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return `${tsNs} ns`;
  return date.toISOString().replace('Z', `${String(micros).padStart(3, '0')}Z`);
}

/** A duration in seconds as `1h02m03s`, `2m03.4s` or `3.456s`. */
export function formatDurationSec(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 3 : 1)}s`;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m${rest.toFixed(0).padStart(2, '0')}s`;
  return `${minutes}m${rest.toFixed(1).padStart(4, '0')}s`;
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}


/** A list of ports, collapsed to `first..last (n ports)` when long. */
export function formatPorts(ports: readonly number[], max = 6): string {
  if (ports.length === 0) return '-';
  if (ports.length <= max) return ports.join(',');
  return `${ports.slice(0, max).join(',')},... (${ports.length} ports)`;
}

/** One rule for every latency and lateness shown anywhere: µs below 1 ms, ms from there on. */
export function formatDurationMs(ms: number): string {
  if (Math.abs(ms) < 1) return `${(ms * 1000).toFixed(0)} µs`;
  return `${ms.toFixed(Math.abs(ms) < 10 ? 2 : 1)} ms`;
}
