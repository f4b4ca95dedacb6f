/**
 * Builds real wire frames (Ethernet or Linux cooked, IPv4 or IPv6, UDP) with correct lengths and checksums, for
 * generated fixtures, benchmarks and tests.
 */

export interface UdpFrameSpec {
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  /** Link layer to wrap the IP packet in. */
  link?: 'ethernet' | 'raw' | 'sll' | 'null';
  /** 802.1Q VLAN ids, outermost first (Ethernet only). */
  vlans?: readonly number[];
  /** IPv4 identification (fragments of one datagram share it). */
  ipId?: number;
  ttl?: number;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const IPPROTO_UDP = 17;
const IPV4_HEADER_BYTES = 20;
const IPV6_HEADER_BYTES = 40;
const UDP_HEADER_BYTES = 8;

export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new Error(`not an IPv4 address: ${text}`);
  }
  return Uint8Array.from(parts);
}

export function parseIpv6(text: string): Uint8Array {
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  if (groups.length !== 8) throw new Error(`not an IPv6 address: ${text}`);
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = Number.parseInt(group, 16);
    bytes[2 * index] = value >> 8;
    bytes[2 * index + 1] = value & 0xff;
  });
  return bytes;
}

function onesComplementSum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i + 1 < end; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if ((end - start) % 2 === 1) sum += (bytes[end - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function writeU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = (value >> 8) & 0xff;
  bytes[at + 1] = value & 0xff;
}

/** An IPv4 or IPv6 packet carrying one UDP datagram, checksums filled in. */
export function buildIpUdpPacket(spec: UdpFrameSpec): Uint8Array {
  const v6 = spec.srcIp.includes(':');
  const src = v6 ? parseIpv6(spec.srcIp) : parseIpv4(spec.srcIp);
  const dst = v6 ? parseIpv6(spec.dstIp) : parseIpv4(spec.dstIp);
  const headerBytes = v6 ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES;
  const udpBytes = UDP_HEADER_BYTES + spec.payload.length;
  const packet = new Uint8Array(headerBytes + udpBytes);
  if (v6) {
    packet[0] = 0x60;
    writeU16(packet, 4, udpBytes);
    packet[6] = IPPROTO_UDP;
    packet[7] = spec.ttl ?? 64;
    packet.set(src, 8);
    packet.set(dst, 24);
  } else {
    packet[0] = 0x45;
    writeU16(packet, 2, headerBytes + udpBytes);
    writeU16(packet, 4, spec.ipId ?? 0);
    packet[8] = spec.ttl ?? 64;
    packet[9] = IPPROTO_UDP;
    packet.set(src, 12);
    packet.set(dst, 16);
    writeU16(packet, 10, ~onesComplementSum(packet, 0, IPV4_HEADER_BYTES) & 0xffff);
  }
  const udp = headerBytes;
  writeU16(packet, udp, spec.srcPort);
  writeU16(packet, udp + 2, spec.dstPort);
  writeU16(packet, udp + 4, udpBytes);
  packet.set(spec.payload, udp + UDP_HEADER_BYTES);
  // Pseudo-header: addresses, protocol, UDP length.
  let pseudo = onesComplementSum(src, 0, src.length);
  pseudo = onesComplementSum(dst, 0, dst.length, pseudo) + IPPROTO_UDP + udpBytes;
  const checksum = ~onesComplementSum(packet, udp, packet.length, pseudo) & 0xffff;
  writeU16(packet, udp + 6, checksum === 0 ? 0xffff : checksum);
  return packet;
}

/** A whole frame for the link type named in the spec (Ethernet by default). */
export function buildUdpFrame(spec: UdpFrameSpec): Uint8Array {
  return wrapInLink(buildIpUdpPacket(spec), spec.link ?? 'ethernet', spec.vlans ?? []);
}

/** Wraps an IP packet in a link-layer header. */
export function wrapInLink(packet: Uint8Array, link: NonNullable<UdpFrameSpec['link']>, vlans: readonly number[] = []): Uint8Array {
  const ethertype = (packet[0] as number) >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  if (link === 'raw') return packet;
  if (link === 'null') {
    const frame = new Uint8Array(4 + packet.length);
    // Host byte order family, as BSD writes it: little-endian here.
    frame[0] = ethertype === ETHERTYPE_IPV6 ? 30 : 2;
    frame.set(packet, 4);
    return frame;
  }
  if (link === 'sll') {
    const frame = new Uint8Array(16 + packet.length);
    writeU16(frame, 2, 1); // ARPHRD_ETHER
    writeU16(frame, 4, 6);
    frame.set([0x02, 0, 0, 0, 0, 1], 6);
    writeU16(frame, 14, ethertype);
    frame.set(packet, 16);
    return frame;
  }
  const header = 14 + 4 * vlans.length;
  const frame = new Uint8Array(header + packet.length);
  frame.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]);
  let at = 12;
  for (const vlan of vlans) {
    writeU16(frame, at, ETHERTYPE_VLAN);
    writeU16(frame, at + 2, vlan & 0x0fff);
    at += 4;
  }
  writeU16(frame, at, ethertype);
  frame.set(packet, header);
  return frame;
}

/**
 * Splits an IPv4 packet into fragments whose payloads are at most `maxPayloadBytes` (rounded down to 8), as a router
 * would; each fragment is a whole IPv4 packet with its own header and checksum.
 */
export function fragmentIpv4(packet: Uint8Array, maxPayloadBytes: number): Uint8Array[] {
  const headerBytes = ((packet[0] as number) & 0x0f) * 4;
  const payload = packet.subarray(headerBytes);
  const step = Math.max(8, maxPayloadBytes - (maxPayloadBytes % 8));
  const fragments: Uint8Array[] = [];
  for (let offset = 0; offset < payload.length; offset += step) {
    const part = payload.subarray(offset, Math.min(payload.length, offset + step));
    const more = offset + step < payload.length;
    const fragment = new Uint8Array(headerBytes + part.length);
    fragment.set(packet.subarray(0, headerBytes));
    writeU16(fragment, 2, fragment.length);
    writeU16(fragment, 6, (more ? 0x2000 : 0) | (offset / 8));
    writeU16(fragment, 10, 0);
    writeU16(fragment, 10, ~onesComplementSum(fragment, 0, headerBytes) & 0xffff);
    fragment.set(part, headerBytes);
    fragments.push(fragment);
  }
  return fragments;
}
