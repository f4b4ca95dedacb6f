import { RelayConfigError } from '../core/errors.ts';
import { isIpv4 } from '../core/ip-address.ts';
import { DEFAULT_SOCKET_BUFFER_BYTES, type AppConfig, type RelayConfig, type ResolvedBackend, type ResolvedRoute, type RouteEntry, type RoutesFile } from './relay-config.ts';
import { getProtocol, isProtocolName, PROTOCOL_NAMES } from '../protocols/index.ts';

/** A socket must hold a datagram as large as UDP allows; the kernel caps what it grants (net.core.wmem_max) anyway. */
const MIN_SOCKET_BUFFER_BYTES = 65_536;
const MAX_SOCKET_BUFFER_BYTES = 1024 * 1024 * 1024;

/**
 * Resolves routes.json and config.yaml into the relay's configuration, in the spec's priority order:
 * `mirror`: route -> routes.json -> false; `mirror_ip`: route -> routes.json -> config.yaml -> error;
 * `ack_from_mirror`: route -> routes.json -> false. Every invalid field is an error naming the route's port and the
 * field (spec, Error Handling: exit 1).
 */
export function resolveRelayConfig(routesFile: RoutesFile, app: AppConfig, source: string): RelayConfig {
  if (!Array.isArray(routesFile.routes)) throw invalid(source, undefined, 'routes', 'must be a list of routes');
  for (const field of ['mirror', 'ack_from_mirror', 'kill_switch'] as const) checkBoolean(source, undefined, field, routesFile[field]);
  checkOptionalIp(source, undefined, 'mirror_ip', routesFile.mirror_ip);
  checkOptionalIp(source, undefined, 'app.mirror_ip', app.mirror_ip);
  if (!isIpv4(app.bind_ip) && app.bind_ip !== '::') throw invalid(source, undefined, 'app.bind_ip', `"${app.bind_ip}" is not a valid IPv4 address`);
  if (!(app.response_timeout_ms > 0)) throw invalid(source, undefined, 'app.response_timeout_ms', 'must be a positive number of milliseconds');
  const socketBufferBytes = app.socket_buffer_bytes ?? DEFAULT_SOCKET_BUFFER_BYTES;
  if (!Number.isInteger(socketBufferBytes) || socketBufferBytes < MIN_SOCKET_BUFFER_BYTES || socketBufferBytes > MAX_SOCKET_BUFFER_BYTES) {
    throw invalid(source, undefined, 'app.socket_buffer_bytes', `${JSON.stringify(app.socket_buffer_bytes)} is not a whole number of bytes from ${MIN_SOCKET_BUFFER_BYTES} to ${MAX_SOCKET_BUFFER_BYTES}`);
  }
  const routes = new Map<number, ResolvedRoute>();
  routesFile.routes.forEach((entry, index) => {
    const route = resolveRoute(entry, index, routesFile, app, source);
    if (routes.has(route.port)) throw invalid(source, route.port, 'port', 'is used by more than one route');
    routes.set(route.port, route);
  });
  const parallel = [...routes.values()].some((route) => route.backends.length > 1);
  return {
    bindIp: app.bind_ip,
    responseTimeoutMs: app.response_timeout_ms,
    socketBufferBytes,
    killSwitch: routesFile.kill_switch === true,
    mode: parallel ? 'parallel' : 'single',
    label: routesFile.version,
    routes,
  };
}

function resolveRoute(entry: RouteEntry, index: number, file: RoutesFile, app: AppConfig, source: string): ResolvedRoute {
  const port = entry.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(source, undefined, `routes[${index}].port`, `${JSON.stringify(port)} is not a port (1-65535)`);
  }
  for (const field of ['mirror', 'ack_from_mirror'] as const) checkBoolean(source, port, field, entry[field]);
  if (entry.protocol !== undefined && !isProtocolName(entry.protocol)) {
    throw invalid(source, port, 'protocol', `"${String(entry.protocol)}" is not a known protocol (${PROTOCOL_NAMES.join(', ')})`);
  }
  const protocol = entry.protocol === undefined ? undefined : getProtocol(entry.protocol);
  const base = { port, customer: String(entry.customer ?? ''), device: String(entry.Device ?? ''), protocol };
  if (entry.targets !== undefined) return { ...base, ...resolveFanOut(entry, source) };
  if (typeof entry.target !== 'string' || !isIpv4(entry.target)) {
    throw invalid(source, port, 'target', entry.target === undefined ? 'is required' : `"${entry.target}" is not a valid IPv4 address`);
  }
  const mirror = entry.mirror ?? file.mirror ?? false;
  const ackFromMirror = entry.ack_from_mirror ?? file.ack_from_mirror ?? false;
  checkOptionalIp(source, port, 'mirror_ip', entry.mirror_ip);
  if (!mirror) {
    return { ...base, mirror: false, ackSource: 'primary', backends: [{ type: 'primary', ip: entry.target, enabled: true, ack: true }] };
  }
  const mirrorIp = entry.mirror_ip ?? file.mirror_ip ?? app.mirror_ip;
  if (mirrorIp === undefined || mirrorIp === '') {
    throw invalid(source, port, 'mirror_ip', 'mirroring is on but no mirror_ip is set (route, routes.json or config.yaml app.mirror_ip)');
  }
  return {
    ...base,
    mirror: true,
    ackSource: ackFromMirror ? 'mirror' : 'primary',
    backends: [
      { type: 'primary', ip: entry.target, enabled: true, ack: !ackFromMirror },
      { type: 'mirror', ip: mirrorIp, enabled: true, ack: ackFromMirror },
    ],
  };
}

function resolveFanOut(entry: RouteEntry, source: string): Pick<ResolvedRoute, 'mirror' | 'ackSource' | 'backends'> {
  const port = entry.port;
  const targets = entry.targets ?? [];
  if (entry.target !== undefined) throw invalid(source, port, 'targets', 'a route has either target or targets, not both');
  if (targets.length === 0) throw invalid(source, port, 'targets', 'must list at least one backend');
  const primaryIndex = entry.primary_index ?? 0;
  if (!Number.isInteger(primaryIndex) || primaryIndex < 0 || primaryIndex >= targets.length) {
    throw invalid(source, port, 'primary_index', `${primaryIndex} is not an index of targets (0-${targets.length - 1})`);
  }
  const backends: ResolvedBackend[] = targets.map((target, index) => {
    if (typeof target.ip !== 'string' || !isIpv4(target.ip)) {
      throw invalid(source, port, `targets[${index}].ip`, `${JSON.stringify(target.ip)} is not a valid IPv4 address`);
    }
    return { type: `target-${index}`, ip: target.ip, enabled: target.enabled ?? true, ack: index === primaryIndex };
  });
  return { mirror: backends.length > 1, ackSource: `target-${primaryIndex}`, backends };
}

function checkBoolean(source: string, port: number | undefined, field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') throw invalid(source, port, field, `must be true or false, not ${JSON.stringify(value)}`);
}

function checkOptionalIp(source: string, port: number | undefined, field: string, value: string | undefined): void {
  if (value !== undefined && value !== '' && !isIpv4(value)) throw invalid(source, port, field, `"${value}" is not a valid IPv4 address`);
}

function invalid(source: string, port: number | undefined, field: string, problem: string): RelayConfigError {
  const where = port === undefined ? source : `${source}: route ${port}`;
  return new RelayConfigError(`${where}: ${field} ${problem}`, { file: source, field, ...(port !== undefined && { route: port }) });
}
