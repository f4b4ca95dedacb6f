import { UsageError } from '../core/errors.ts';
import { ipv4ToNumber, numberToIpv4, parseIpv4Block } from '../core/ip-address.ts';

/**
 * Hands out local addresses from a CIDR block (`127.20.0.0/16`), one per device, skipping .0 and .255 so no address
 * looks like a network or broadcast address to anything on the path.
 */
export class AddressPool {
  private next: number;
  private readonly last: number;
  readonly cidr: string;

  constructor(cidr: string) {
    const block = parseIpv4Block(cidr);
    if (block === undefined) throw new UsageError(`--devices "${cidr}" is not an IPv4 block such as 127.20.0.0/16`, { field: 'devices' });
    const { base, bits } = block;
    const size = 2 ** (32 - bits);
    const network = Math.floor(ipv4ToNumber(base) / size) * size;
    this.next = network;
    this.last = network + size - 1;
    this.cidr = cidr;
  }

  /** The next free address, or a usage error when the block has none left. */
  take(): string {
    for (; this.next <= this.last; this.next++) {
      const lastOctet = this.next & 0xff;
      if (lastOctet === 0 || lastOctet === 255) continue;
      return numberToIpv4(this.next++);
    }
    throw new UsageError(`--devices ${this.cidr} has no addresses left: give a larger block (e.g. a /16)`, { field: 'devices' });
  }
}
