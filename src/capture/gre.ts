import { LinkType, locateNetworkLayer, NetworkKind, type NetworkLocation } from './link-layer.ts';
import { readU16 } from './wire-bytes.ts';

const GRE_IPV4 = 0x0800;
const GRE_IPV6 = 0x86dd;
const GRE_TRANSPARENT_ETHERNET = 0x6558;
const GRE_ERSPAN_2 = 0x88be;
const GRE_ERSPAN_3 = 0x22eb;

/**
 * Locates what a GRE packet at `bytes[at..end)` carries: IP directly, or an Ethernet frame (transparent bridging,
 * ERSPAN II and III, so traffic mirrored off a switch port is found). Only GRE version 0 carries either (version 1 is
 * PPTP's enhanced GRE).
 */
export function locateInGre(bytes: Uint8Array, at: number, end: number, out: NetworkLocation): NetworkLocation {
  out.kind = NetworkKind.NotIp;
  out.offset = at;
  if (end - at < 4) return out;
  const flags = readU16(bytes, at);
  const protocol = readU16(bytes, at + 2);
  if ((flags & 0x7) !== 0) return out;
  let offset = at + 4;
  if (flags & 0x8000) offset += 4;
  if (flags & 0x2000) offset += 4;
  const sequenced = (flags & 0x1000) !== 0;
  if (sequenced) offset += 4;
  out.offset = offset;
  if (protocol === GRE_IPV4) out.kind = NetworkKind.Ipv4;
  else if (protocol === GRE_IPV6) out.kind = NetworkKind.Ipv6;
  if (out.kind !== NetworkKind.NotIp) return out;
  if (protocol === GRE_ERSPAN_2 && sequenced) offset += 8;
  else if (protocol === GRE_ERSPAN_3) offset += offset + 12 <= end && ((bytes[offset + 11] as number) & 1) !== 0 ? 20 : 12;
  else if (protocol !== GRE_TRANSPARENT_ETHERNET && protocol !== GRE_ERSPAN_2) return out;
  if (offset > end) return out;
  return locateNetworkLayer(LinkType.ETHERNET, bytes, offset, end, out);
}
