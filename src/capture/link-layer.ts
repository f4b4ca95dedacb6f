/**
 * Finds the IP header inside a frame of a given link type. Link types and header layouts are those of
 * https://www.tcpdump.org/linktypes.html; each supported type is one small function.
 */
import { readU16, readU16Le, readU32, readU32Le } from './wire-bytes.ts';

export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  RAW_12: 12,
  RAW_14: 14,
  PPP_HDLC: 50,
  RAW: 101,
  C_HDLC: 104,
  LOOP: 108,
  LINUX_SLL: 113,
  USER2: 149,
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239,
  PKTAP: 258,
  LINUX_SLL2: 276,
} as const;

/** Link types whose frames this reader decodes down to IP. */
export const SUPPORTED_LINK_TYPES: ReadonlySet<number> = new Set(Object.values(LinkType));

/** What a frame holds at its network layer. */
export const NetworkKind = {
  /** A link type this reader does not decode. */
  UnsupportedLink: -1,
  /** A frame of a supported link type that carries something other than IP, or too short to tell. */
  NotIp: 0,
  Ipv4: 4,
  Ipv6: 6,
} as const;
export type NetworkKind = (typeof NetworkKind)[keyof typeof NetworkKind];

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_QINQ = 0x88a8;
const ETHERTYPE_QINQ_OLD = 0x9100;
const ETHERTYPE_MPLS = 0x8847;
const ETHERTYPE_MPLS_MULTICAST = 0x8848;
const ETHERTYPE_PPPOE_SESSION = 0x8864;
const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const PPP_MPLS = 0x0281;
const PPP_ADDRESS_ALL_STATIONS = 0xff;
const PPP_CONTROL_UNNUMBERED = 0x03;
const ETHERNET_HEADER_BYTES = 14;
const MAX_ETHERNET_LENGTH_FIELD = 1500;
const SLL_HEADER_BYTES = 16;
const SLL2_HEADER_BYTES = 20;
const AF_INET = 2;
/** AF_INET6 differs by OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30. */
const AF_INET6_VALUES: ReadonlySet<number> = new Set([10, 24, 28, 30]);
const NFLOG_TLV_PAYLOAD = 9;
const PKTAP_MIN_HEADER_BYTES = 108;

/** Where the network layer starts; `kind` says what it is. Reused across calls to avoid allocation. */
export interface NetworkLocation {
  kind: NetworkKind;
  offset: number;
}

/** Locates the network layer of the frame `bytes[start..end)` of link type `linkType`. */
export function locateNetworkLayer(
  linkType: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  out: NetworkLocation,
): NetworkLocation {
  out.offset = start;
  out.kind = NetworkKind.NotIp;
  switch (linkType) {
    case LinkType.ETHERNET:
      return locateAfterEthernet(bytes, start, end, out);
    case LinkType.RAW_12:
    case LinkType.RAW_14:
    case LinkType.RAW:
      return byIpVersion(bytes, start, end, out);
    case LinkType.IPV4:
      // As Wireshark: an IPv4 link may carry IPv6 (the version nibble decides), an IPv6 link carries only IPv6.
      return byIpVersion(bytes, start, end, out);
    case LinkType.IPV6:
      out.kind = NetworkKind.Ipv6;
      return out;
    case LinkType.PPP:
    case LinkType.PPP_HDLC:
      return locateAfterPpp(bytes, start, end, out);
    case LinkType.C_HDLC:
      if (end - start < 4) return out;
      return byEthertype(readU16(bytes, start + 2), bytes, start + 4, end, out);
    case LinkType.LINUX_SLL:
      if (end - start < SLL_HEADER_BYTES) return out;
      return byEthertype(readU16(bytes, start + 14), bytes, start + SLL_HEADER_BYTES, end, out);
    case LinkType.LINUX_SLL2:
      if (end - start < SLL2_HEADER_BYTES) return out;
      return byEthertype(readU16(bytes, start), bytes, start + SLL2_HEADER_BYTES, end, out);
    case LinkType.NULL:
      return locateAfterNull(bytes, start, end, out);
    case LinkType.LOOP:
      if (end - start < 4) return out;
      return byAddressFamily(readU32(bytes, start), start + 4, out);
    case LinkType.NFLOG:
      return locateInNflog(bytes, start, end, out);
    case LinkType.PKTAP:
    case LinkType.USER2:
      return locateInPktap(bytes, start, end, out);
    default:
      out.kind = NetworkKind.UnsupportedLink;
      return out;
  }
}

function byIpVersion(bytes: Uint8Array, at: number, end: number, out: NetworkLocation): NetworkLocation {
  out.offset = at;
  if (at >= end) return out;
  const version = (bytes[at] as number) >> 4;
  out.kind = version === 4 ? NetworkKind.Ipv4 : version === 6 ? NetworkKind.Ipv6 : NetworkKind.NotIp;
  return out;
}

function byEthertype(type: number, bytes: Uint8Array, at: number, end: number, out: NetworkLocation): NetworkLocation {
  out.offset = at;
  if (type === ETHERTYPE_IPV4) out.kind = NetworkKind.Ipv4;
  else if (type === ETHERTYPE_IPV6) out.kind = NetworkKind.Ipv6;
  else if (type === ETHERTYPE_MPLS || type === ETHERTYPE_MPLS_MULTICAST) return locateAfterMpls(bytes, at, end, out);
  // PPPoE session: a 6-byte header, then a PPP protocol field.
  else if (type === ETHERTYPE_PPPOE_SESSION) return locateAfterPpp(bytes, at + 6, end, out);
  return out;
}

function locateAfterEthernet(bytes: Uint8Array, start: number, end: number, out: NetworkLocation): NetworkLocation {
  if (end - start < ETHERNET_HEADER_BYTES) return out;
  let at = start + 12;
  let type = readU16(bytes, at);
  at += 2;
  // 802.1Q and 802.1ad (QinQ) tags, any depth.
  while (type === ETHERTYPE_VLAN || type === ETHERTYPE_QINQ || type === ETHERTYPE_QINQ_OLD) {
    if (at + 4 > end) return out;
    type = readU16(bytes, at + 2);
    at += 4;
  }
  if (type <= MAX_ETHERNET_LENGTH_FIELD) {
    // 802.3 length field: only LLC/SNAP (AA AA 03, OUI, ethertype) can carry IP.
    if (at + 8 > end || bytes[at] !== 0xaa || bytes[at + 1] !== 0xaa || bytes[at + 2] !== 0x03) return out;
    type = readU16(bytes, at + 6);
    at += 8;
  }
  return byEthertype(type, bytes, at, end, out);
}

function locateAfterMpls(bytes: Uint8Array, start: number, end: number, out: NetworkLocation): NetworkLocation {
  let at = start;
  for (;;) {
    if (at + 4 > end) return out;
    const bottomOfStack = ((bytes[at + 2] as number) & 0x01) !== 0;
    at += 4;
    if (bottomOfStack) return byIpVersion(bytes, at, end, out);
  }
}

function locateAfterPpp(bytes: Uint8Array, start: number, end: number, out: NetworkLocation): NetworkLocation {
  let at = start;
  if (at + 2 <= end && bytes[at] === PPP_ADDRESS_ALL_STATIONS && bytes[at + 1] === PPP_CONTROL_UNNUMBERED) at += 2;
  if (at >= end) return out;
  // Protocol-field compression (RFC 1661 6.5): an odd first byte is a one-byte protocol.
  let protocol: number;
  if (((bytes[at] as number) & 1) === 1) {
    protocol = bytes[at] as number;
    at += 1;
  } else {
    if (at + 2 > end) return out;
    protocol = readU16(bytes, at);
    at += 2;
  }
  out.offset = at;
  if (protocol === PPP_IPV4) out.kind = NetworkKind.Ipv4;
  else if (protocol === PPP_IPV6) out.kind = NetworkKind.Ipv6;
  else if (protocol === PPP_MPLS) return locateAfterMpls(bytes, at, end, out);
  return out;
}

function locateAfterNull(bytes: Uint8Array, start: number, end: number, out: NetworkLocation): NetworkLocation {
  if (end - start < 4) return out;
  // The family is in the byte order of the machine that captured: a value above 16 bits means it was the other one.
  const little = readU32Le(bytes, start);
  const family = little > 0xffff ? readU32(bytes, start) : little;
  return byAddressFamily(family, start + 4, out);
}

function byAddressFamily(family: number, at: number, out: NetworkLocation): NetworkLocation {
  out.offset = at;
  if (family === AF_INET) out.kind = NetworkKind.Ipv4;
  else if (AF_INET6_VALUES.has(family)) out.kind = NetworkKind.Ipv6;
  return out;
}

function locateInNflog(bytes: Uint8Array, start: number, end: number, out: NetworkLocation): NetworkLocation {
  const family = bytes[start];
  // NFLOG TLVs: little-endian length (including the 4-byte TLV header) and type, padded to 4 bytes.
  for (let at = start + 4; at + 4 <= end; ) {
    const length = readU16Le(bytes, at);
    const type = readU16Le(bytes, at + 2) & 0x7fff;
    if (length < 4) return out;
    if (type === NFLOG_TLV_PAYLOAD) {
      if (family === AF_INET) {
        out.kind = NetworkKind.Ipv4;
        out.offset = at + 4;
        return out;
      }
      if (family === 10) {
        out.kind = NetworkKind.Ipv6;
        out.offset = at + 4;
        return out;
      }
      return byIpVersion(bytes, at + 4, end, out);
    }
    at += (length + 3) & ~3;
  }
  return out;
}

function locateInPktap(bytes: Uint8Array, start: number, end: number, out: NetworkLocation): NetworkLocation {
  // Apple's PKTAP header (also written as DLT_USER2 by macOS): length and the inner frame's DLT, little-endian.
  if (end - start < 8) return out;
  const headerBytes = readU32Le(bytes, start);
  const innerLinkType = readU32Le(bytes, start + 4);
  if (headerBytes < PKTAP_MIN_HEADER_BYTES || start + headerBytes > end) return out;
  if (innerLinkType === LinkType.PKTAP || innerLinkType === LinkType.USER2) return out;
  locateNetworkLayer(innerLinkType, bytes, start + headerBytes, end, out);
  if (out.kind === NetworkKind.UnsupportedLink) out.kind = NetworkKind.NotIp;
  return out;
}
