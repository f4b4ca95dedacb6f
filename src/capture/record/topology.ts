import { readYamlFile } from '../../core/yaml-file.ts';
import { ConfigError } from '../../core/errors.ts';
import { isIpv4 } from '../../core/ip-address.ts';
import type { Endpoint } from '../../observe/udp-tap.ts';
import type { UdpDatagram } from '../udp-datagram.ts';
import type { RecordedPacket } from './record-targets.ts';

/**
 * Who is who on the wire, so each captured packet can be given its leg:
 * ```yaml
 * relay: { ip: 10.0.0.5, ports: [20500, 20501], egress: [10.0.1.5] }   # or just: relay: 10.0.0.5 (every port)
 * backends:
 *   primary: 10.0.1.10
 *   mirror: 10.0.2.10
 * ```
 */
export interface Topology {
  relayIp: string;
  /** Addresses the relay sends to backends from, when not its listen address (a relay bound to 0.0.0.0). */
  relayEgress: ReadonlySet<string>;
  relayPorts: ReadonlySet<number>;
  backends: ReadonlyMap<string, string>;
}

export async function loadTopology(path: string): Promise<Topology> {
  return parseTopology(await readYamlFile(path), path);
}

export function parseTopology(input: unknown, source: string): Topology {
  const err = (field: string, problem: string): ConfigError => new ConfigError(`${source}: ${field} ${problem}`, { file: source, field });
  const root = (input ?? {}) as Record<string, unknown>;
  const relay = typeof root.relay === 'string' ? { ip: root.relay } : ((root.relay ?? {}) as { ip?: unknown; ports?: unknown; egress?: unknown });
  if (typeof relay.ip !== 'string' || !isIpv4(relay.ip)) throw err('relay.ip', 'must be the relay\'s IPv4 address');
  const ports = Array.isArray(relay.ports) ? relay.ports.map(Number) : [];
  if (ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw err('relay.ports', 'must be a list of ports');
  const backends = new Map<string, string>();
  for (const [role, ip] of Object.entries((root.backends ?? {}) as Record<string, unknown>)) {
    if (!/^(primary|mirror|target-\d+)$/.test(role)) throw err(`backends.${role}`, 'is not a backend role (primary, mirror, target-N)');
    if (typeof ip !== 'string' || !isIpv4(ip)) throw err(`backends.${role}`, 'must be an IPv4 address');
    backends.set(role, ip);
  }
  if (backends.size === 0) throw err('backends', 'must name at least the primary');
  const egress = Array.isArray(relay.egress) ? relay.egress.map(String) : [];
  if (egress.some((ip) => !isIpv4(ip))) throw err('relay.egress', 'must be a list of IPv4 addresses');
  return { relayIp: relay.ip, relayEgress: new Set(egress), relayPorts: new Set(ports), backends };
}

/** The leg of a packet from `src` to `dst`, and its route port; undefined for traffic that is none of the relay's. */
export function legOf(topology: Topology, src: Endpoint, dst: Endpoint): { leg: string; routePort: number } | undefined {
  const isRelayPort = (port: number): boolean => topology.relayPorts.size === 0 || topology.relayPorts.has(port);
  const isRelay = (ip: string): boolean => ip === topology.relayIp || topology.relayEgress.has(ip);
  for (const [role, ip] of topology.backends) {
    if (isRelay(src.ip) && dst.ip === ip) return { leg: `relay>${role}`, routePort: dst.port };
    if (src.ip === ip && isRelay(dst.ip)) return { leg: `${role}>relay`, routePort: src.port };
  }
  if (dst.ip === topology.relayIp && isRelayPort(dst.port)) return { leg: 'device>relay', routePort: dst.port };
  if (src.ip === topology.relayIp && isRelayPort(src.port)) return { leg: 'relay>device', routePort: src.port };
  return undefined;
}

/**
 * A captured datagram as a packet on its leg, or undefined when it is none of the relay's. Capture times are wall
 * clock; `monoMinusWallNs` moves them onto a run's monotonic clock (0: they stay on the capture's).
 */
export function packetOnLeg(topology: Topology, datagram: UdpDatagram, monoMinusWallNs = 0n): RecordedPacket | undefined {
  const src = { ip: datagram.srcIp, port: datagram.srcPort };
  const dst = { ip: datagram.dstIp, port: datagram.dstPort };
  const assigned = legOf(topology, src, dst);
  if (assigned === undefined) return undefined;
  const wallNs = BigInt(datagram.tsSec) * 1_000_000_000n + BigInt(datagram.tsFracNs);
  return { monoNs: wallNs + monoMinusWallNs, wallNs, src, dst, payload: Buffer.from(datagram.payload), ...assigned };
}
