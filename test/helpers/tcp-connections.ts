import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';

/**
 * How many TCP connections to `host:port` (IPv4) are established from this machine's side, as the kernel lists them in
 * /proc/net/tcp: the client's view of a handshake, which the kernel may hand to the listening server a little later
 * on a busy machine. Columns, as net/ipv4/tcp_ipv4.c prints them: sl, local, remote, st (01 is ESTABLISHED), ...
 */
export function establishedTo(host: string, port: number): number {
  const octets = host.split('.').map(Number);
  const ordered = endianness() === 'LE' ? octets.reverse() : octets;
  const remote = `${ordered.map((o) => o.toString(16).padStart(2, '0')).join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
  let count = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, , rem, state] = line.trim().split(/\s+/);
    if (rem === remote && state === '01') count++;
  }
  return count;
}
