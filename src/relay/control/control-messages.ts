/**
 * The control plane's WebSocket protocol (../shared/specs/control-plane-data-plane.md): the control plane sends full
 * snapshots, never deltas; a data plane answers each with an ack (applied) or a nack (invalid, last-known-good kept).
 */
export interface ConfigSnapshotMessage {
  type: 'config_snapshot';
  /** The whole configuration, its `version` a non-empty string. */
  config: Record<string, unknown> & { version: string };
}

export interface AckMessage {
  type: 'ack';
  version: string;
}

export interface NackMessage {
  type: 'nack';
  version: string;
  error: string;
}

export type DataPlaneMessage = AckMessage | NackMessage;

/** Reads a control plane's message; undefined for anything that is not a snapshot (ignored, as the spec's types are). */
export function readSnapshotMessage(text: string): ConfigSnapshotMessage | { type: 'config_snapshot'; invalid: string } | undefined {
  const message = parseObject(text);
  if (message === undefined || message.type !== 'config_snapshot') return undefined;
  const config = message.config;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return { type: 'config_snapshot', invalid: 'config: must be an object' };
  const version = (config as Record<string, unknown>).version;
  if (typeof version !== 'string' || version.trim() === '') return { type: 'config_snapshot', invalid: 'version: must be a non-empty string' };
  return { type: 'config_snapshot', config: config as ConfigSnapshotMessage['config'] };
}

/** Reads a data plane's answer; undefined for anything else. */
export function readDataPlaneMessage(text: string): DataPlaneMessage | undefined {
  const message = parseObject(text);
  if (message === undefined || typeof message.version !== 'string') return undefined;
  if (message.type === 'ack') return { type: 'ack', version: message.version };
  if (message.type === 'nack') return { type: 'nack', version: message.version, error: typeof message.error === 'string' ? message.error : '(no reason given)' };
  return undefined;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
