import { readU16, readU32 } from './wire-bytes.ts';

/** IPv6 extension headers whose length is (byte 1 + 1) * 8: hop-by-hop, routing, destination, mobility, HIP, shim6. */
const IPV6_GENERIC_EXTENSIONS: ReadonlySet<number> = new Set([0, 43, 60, 135, 139, 140]);
const IPV6_FRAGMENT = 44;
const IPV6_AUTH = 51;
const MAX_IPV6_EXTENSIONS = 16;

/** Where an IPv6 packet's extension headers end. Reused across packets to avoid allocation. */
export interface Ipv6Payload {
  /** The protocol after the last extension header. */
  next: number;
  offset: number;
  /** A fragment header (other than an atomic one) was found: the payload from `offset` is a fragment. */
  fragment: boolean;
  fragmentOffset: number;
  more: boolean;
  identification: number;
}

export const createIpv6Payload = (): Ipv6Payload => ({ next: 0, offset: 0, fragment: false, fragmentOffset: 0, more: false, identification: 0 });

/**
 * Walks the extension headers after the fixed header (`next` is its next-header field, `at` where they start), up to
 * a fragment header or the transport. False when a header runs past `end`.
 */
export function walkIpv6Extensions(bytes: Uint8Array, next: number, at: number, end: number, out: Ipv6Payload): boolean {
  out.fragment = false;
  let offset = at;
  for (let i = 0; i < MAX_IPV6_EXTENSIONS; i++) {
    if (IPV6_GENERIC_EXTENSIONS.has(next) || next === IPV6_AUTH) {
      if (offset + 2 > end) return false;
      const length = next === IPV6_AUTH ? ((bytes[offset + 1] as number) + 2) * 4 : ((bytes[offset + 1] as number) + 1) * 8;
      next = bytes[offset] as number;
      offset += length;
      continue;
    }
    if (next === IPV6_FRAGMENT) {
      if (offset + 8 > end) return false;
      const offsetAndFlag = readU16(bytes, offset + 2);
      out.fragmentOffset = offsetAndFlag & 0xfff8;
      out.more = (offsetAndFlag & 1) !== 0;
      out.identification = readU32(bytes, offset + 4);
      next = bytes[offset] as number;
      offset += 8;
      // An atomic fragment (offset 0, no more) is a whole datagram.
      if (out.fragmentOffset === 0 && !out.more) continue;
      out.fragment = true;
      break;
    }
    break;
  }
  out.next = next;
  out.offset = offset;
  return true;
}
