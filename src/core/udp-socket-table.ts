import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { formatIpv4, formatIpv6 } from './ip-address.ts';

/** One UDP socket as the kernel lists it in /proc/net/udp (or udp6). */
export interface KernelUdpSocket {
  /** `address:port` it is bound to (an IPv4 address bound through an IPv6 socket as IPv4). */
  local: string;
  /** `address:port` it is connected to; null when it is not connected. */
  remote: string | null;
  /** Bytes waiting in its receive queue. */
  queuedBytes: number;
  /** Datagrams the kernel dropped on arrival since the socket was made: its receive buffer was full. */
  drops: number;
}

/**
 * Every UDP socket of this network namespace, from the kernel's own tables; undefined off Linux (no such files). Read
 * in one go: about a line of 150 bytes per socket, so a fleet of thousands costs a millisecond or two.
 */
export function kernelUdpSockets(): KernelUdpSocket[] | undefined {
  const sockets: KernelUdpSocket[] = [];
  let seen = false;
  for (const [file, v6] of [['/proc/net/udp', false], ['/proc/net/udp6', true]] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    seen = true;
    sockets.push(...parseUdpSocketTable(text, v6));
  }
  return seen ? sockets : undefined;
}

/**
 * The sockets in the text of /proc/net/udp (or udp6, `v6`), header line first. Columns, as net/ipv4/udp.c prints them:
 * sl, local, remote, st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode, ref, pointer, drops.
 */
export function parseUdpSocketTable(text: string, v6: boolean): KernelUdpSocket[] {
  const sockets: KernelUdpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [, local, remote, , queues] = fields;
    const drops = fields[12];
    if (local === undefined || remote === undefined || queues === undefined || drops === undefined) continue;
    sockets.push({
      local: endpoint(local, v6),
      remote: /^0+:0000$/.test(remote) ? null : endpoint(remote, v6),
      queuedBytes: Number.parseInt(queues.split(':')[1] ?? '0', 16),
      drops: Number.parseInt(drops, 10),
    });
  }
  return sockets;
}

function endpoint(hexEndpoint: string, v6: boolean): string {
  const [hexAddress = '', hexPort = ''] = hexEndpoint.split(':');
  return `${kernelAddress(hexAddress, v6)}:${Number.parseInt(hexPort, 16)}`;
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

/** The datagrams the kernel dropped on arrival at the sockets bound to `locals` (`address:port`), from `table`. */
export function dropsAt(table: readonly KernelUdpSocket[], locals: ReadonlySet<string>): number {
  let drops = 0;
  for (const socket of table) if (locals.has(socket.local)) drops += socket.drops;
  return drops;
}

/**
 * What the kernel dropped at some sockets since the count began (when it is made, once they are bound): `locals`
 * gives their `address:port`s when read, and `which` narrows the table (e.g. to unconnected sockets). Read while the
 * sockets are open: their counts go with them. Null where the table cannot be read (not Linux).
 */
export class DropsSince {
  private readonly atStart: number | null;

  constructor(
    private readonly locals: () => ReadonlySet<string>,
    private readonly which: (socket: KernelUdpSocket) => boolean = () => true,
  ) {
    this.atStart = this.now();
  }

  count(): number | null {
    const now = this.now();
    return now === null || this.atStart === null ? null : Math.max(0, now - this.atStart);
  }

  private now(): number | null {
    const table = kernelUdpSockets();
    return table === undefined ? null : dropsAt(table.filter(this.which), this.locals());
  }
}
