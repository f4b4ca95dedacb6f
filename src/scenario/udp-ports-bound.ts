import { isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { kernelUdpSockets, parseUdpSocketTable } from '../core/udp-socket-table.ts';

/**
 * Whether some socket on this machine is bound to UDP `port` at `ip` (or at every address) for each of `ports`, from
 * the kernel's own tables (/proc/net/udp and udp6). Undefined when that cannot be seen: not Linux, or `ip` is not an
 * address of this machine (a relay on another host binds nothing here).
 */
export function udpPortsBound(ip: string, ports: readonly number[]): boolean | undefined {
  if (!isLocalAddress(ip)) return undefined;
  const bound = boundUdpSockets();
  if (bound === undefined) return undefined;
  const wildcard = isIPv6(ip) ? '::' : '0.0.0.0';
  return ports.every((port) => bound.has(`${ip}:${port}`) || bound.has(`${wildcard}:${port}`) || (!isIPv6(ip) && bound.has(`:::${port}`)));
}

/** Linux routes the whole of 127.0.0.0/8 to the loopback device; other addresses are this machine's if an interface has them. */
function isLocalAddress(ip: string): boolean {
  if (ip.startsWith('127.') || ip === '::1') return true;
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((entry) => entry.address === ip));
}

/** `address:port` of every unconnected UDP socket (the kernel lists them with no remote address), or undefined off Linux. */
function boundUdpSockets(): Set<string> | undefined {
  const table = kernelUdpSockets();
  return table === undefined ? undefined : new Set(table.filter((socket) => socket.remote === null).map((socket) => socket.local));
}

/** `address:port` of each unconnected socket in the text of /proc/net/udp (or udp6, `v6`), header line first. */
export function unconnectedUdpSockets(text: string, v6: boolean): string[] {
  return parseUdpSocketTable(text, v6).filter((socket) => socket.remote === null).map((socket) => socket.local);
}
