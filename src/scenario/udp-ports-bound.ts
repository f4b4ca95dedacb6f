import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { endianness, networkInterfaces } from 'node:os';
import { formatIpv4, formatIpv6 } from '../core/ip-address.ts';

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
  const bound = new Set<string>();
  let seen = false;
  for (const [file, v6] of [['/proc/net/udp', false], ['/proc/net/udp6', true]] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    seen = true;
    for (const socket of unconnectedUdpSockets(text, v6)) bound.add(socket);
  }
  return seen ? bound : undefined;
}

/** `address:port` of each unconnected socket in the text of /proc/net/udp (or udp6, `v6`), header line first. */
export function unconnectedUdpSockets(text: string, v6: boolean): string[] {
  const sockets: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [, local, remote] = line.trim().split(/\s+/);
    if (local === undefined || remote === undefined || !/^0+:0000$/.test(remote)) continue;
    const [hexAddress = '', hexPort = ''] = local.split(':');
    sockets.push(`${kernelAddress(hexAddress, v6)}:${Number.parseInt(hexPort, 16)}`);
  }
  return sockets;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** The kernel prints an address as 32-bit words in the machine's own byte order, each as hex. */
function kernelAddress(hex: string, v6: boolean): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let word = 0; word < hex.length / 8; word++) {
    for (let i = 0; i < 4; i++) {
      bytes[word * 4 + (LITTLE_ENDIAN ? 3 - i : i)] = Number.parseInt(hex.slice(word * 8 + i * 2, word * 8 + i * 2 + 2), 16);
    }
  }
  if (!v6) return formatIpv4(bytes, 0);
  // An IPv4 socket bound through an IPv6 one (::ffff:a.b.c.d) is that IPv4 address.
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? formatIpv4(bytes, 12) : formatIpv6(bytes, 0);
}
