import { formatIpv4, formatIpv6 } from '../core/ip-address.ts';
import { countInto, createDecodeStats, LinkTypeCounter, type DecodeStats } from './decode-stats.ts';
import type { FrameView } from './frame.ts';
import { FragmentReassembler, type AbandonedFirstFragment } from './ip-reassembly.ts';
import { locateInGre } from './gre.ts';
import { createIpv6Payload, walkIpv6Extensions } from './ipv6-extensions.ts';
import { locateNetworkLayer, NetworkKind, type NetworkLocation } from './link-layer.ts';
import { createUdpDatagram, type DatagramHandler, type UdpDatagram } from './udp-datagram.ts';
import { createTcpSegment, type TcpSegment, type TcpSegmentHandler } from './tcp-segment.ts';
import { readU16 } from './wire-bytes.ts';

const IPPROTO_IPV4 = 4;
const IPPROTO_TCP = 6;
const TCP_MIN_HEADER_BYTES = 20;
const IPPROTO_UDP = 17;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;
const IPV4_MIN_HEADER_BYTES = 20;
const IPV6_HEADER_BYTES = 40;
const UDP_HEADER_BYTES = 8;
/** Tunnels (IP in IP, GRE) are unwrapped to this depth; a deeper nest is garbage or an attack. */
const MAX_TUNNEL_DEPTH = 4;

/** How one frame ended up. */
const Outcome = { Udp: 0, Fragment: 1, NotUdp: 2 } as const;
type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface FrameDecoderOptions {
  /** Keep only datagrams from or to these ports; all when absent or empty. */
  ports?: ReadonlySet<number>;
  /** Told of every TCP segment (the HTTP family reassembles streams from them); TCP is skipped when absent. */
  onTcpSegment?: TcpSegmentHandler;
}

/**
 * Decodes frames down to UDP: link layer, IPv4 (options, fragments) or IPv6 (extension headers, fragments), IP-in-IP
 * and GRE tunnels (including ERSPAN, so traffic mirrored off a switch port is found), then the first UDP header.
 * Every frame is counted in `stats`; datagrams go to the handler, one reused object at a time.
 */
export class FrameDecoder {
  private readonly decodeStats: DecodeStats = createDecodeStats();
  private readonly linkTypes = new LinkTypeCounter();
  private readonly reassembler = new FragmentReassembler((first) => this.keepFirstFragment(first));
  private readonly location: NetworkLocation = { kind: NetworkKind.NotIp, offset: 0 };
  private readonly datagram: UdpDatagram = createUdpDatagram();
  private readonly ipv6Payload = createIpv6Payload();
  private readonly ports: ReadonlySet<number> | undefined;
  private readonly onTcpSegment: TcpSegmentHandler | undefined;
  private readonly segment: TcpSegment = createTcpSegment();
  private frame: FrameView | undefined;
  // Addresses of the innermost IP header decoded so far: the UDP header found after it belongs to them.
  private ipVersion: 4 | 6 = 4;
  private srcIp = '';
  private dstIp = '';

  constructor(
    private readonly onDatagram: DatagramHandler,
    options: FrameDecoderOptions = {},
  ) {
    this.ports = options.ports !== undefined && options.ports.size > 0 ? options.ports : undefined;
    this.onTcpSegment = options.onTcpSegment;
  }

  /** Counts so far (up to date whenever read). */
  get stats(): DecodeStats {
    this.decodeStats.framesByLinkType = this.linkTypes.toRecord();
    return this.decodeStats;
  }

  decode(frame: FrameView): void {
    const stats = this.decodeStats;
    stats.frames++;
    this.linkTypes.add(frame.linkType);
    const end = frame.offset + frame.capturedBytes;
    const location = locateNetworkLayer(frame.linkType, frame.bytes, frame.offset, end, this.location);
    if (location.kind === NetworkKind.UnsupportedLink) {
      stats.unsupportedFrames++;
      countInto(stats.unsupportedByLinkType, frame.linkType);
      return;
    }
    this.frame = frame;
    const outcome = this.decodeNetwork(location.kind, frame.bytes, location.offset, end, 0);
    if (outcome === Outcome.NotUdp) stats.nonUdpFrames++;
    else if (outcome === Outcome.Fragment) stats.fragmentFrames++;
  }

  /** Ends decoding: fragments still waiting for their datagram are counted as abandoned. */
  finish(): DecodeStats {
    this.reassembler.finish();
    this.decodeStats.reassembledDatagrams = this.reassembler.reassembledDatagrams;
    this.decodeStats.abandonedFragments = this.reassembler.abandonedFragments;
    return this.stats;
  }

  /** A datagram whose other fragments never came: its first fragment still holds the UDP header and a payload start. */
  private keepFirstFragment({ origin, protocol, bytes }: AbandonedFirstFragment): void {
    if (protocol !== IPPROTO_UDP) return;
    this.setAddresses(origin.ipVersion, origin.srcIp, origin.dstIp);
    this.decodeUdpAt(bytes, 0, bytes.length, true, origin);
  }

  private decodeNetwork(kind: NetworkKind, bytes: Uint8Array, at: number, end: number, depth: number): Outcome {
    if (kind === NetworkKind.Ipv4) return this.decodeIpv4(bytes, at, end, depth);
    if (kind === NetworkKind.Ipv6) return this.decodeIpv6(bytes, at, end, depth);
    return Outcome.NotUdp;
  }

  private decodeIpv4(bytes: Uint8Array, at: number, end: number, depth: number): Outcome {
    if (end - at < IPV4_MIN_HEADER_BYTES) return Outcome.NotUdp;
    const versionAndLength = bytes[at] as number;
    const headerBytes = (versionAndLength & 0x0f) * 4;
    if (versionAndLength >> 4 !== 4 || headerBytes < IPV4_MIN_HEADER_BYTES || at + headerBytes > end) {
      return Outcome.NotUdp;
    }
    const totalBytes = readU16(bytes, at + 2);
    // A total length of 0 is what segmentation offload leaves in captures: the packet runs to the end of the frame.
    if (totalBytes !== 0 && totalBytes < headerBytes) return Outcome.NotUdp;
    const packetEnd = totalBytes === 0 ? end : at + totalBytes;
    const dataEnd = Math.min(packetEnd, end);
    const cut = packetEnd > end;
    const protocol = bytes[at + 9] as number;
    const srcIp = formatIpv4(bytes, at + 12);
    const dstIp = formatIpv4(bytes, at + 16);
    this.setAddresses(4, srcIp, dstIp);
    const flagsAndOffset = readU16(bytes, at + 6);
    const more = (flagsAndOffset & 0x2000) !== 0;
    const fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
    if (more || fragmentOffset !== 0) {
      const key = `4|${srcIp}|${dstIp}|${readU16(bytes, at + 4)}|${protocol}`;
      const declaredBytes = packetEnd - at - headerBytes;
      return this.addFragment(key, protocol, fragmentOffset, bytes.subarray(at + headerBytes, dataEnd), {
        declaredBytes,
        more,
        depth,
      });
    }
    return this.decodeTransport(protocol, bytes, at + headerBytes, dataEnd, cut, depth);
  }

  private decodeIpv6(bytes: Uint8Array, at: number, end: number, depth: number): Outcome {
    if (end - at < IPV6_HEADER_BYTES || (bytes[at] as number) >> 4 !== 6) return Outcome.NotUdp;
    const payloadBytes = readU16(bytes, at + 4);
    // Payload length 0: a jumbogram or segmentation offload; the packet runs to the end of the frame.
    const packetEnd = payloadBytes === 0 ? end : at + IPV6_HEADER_BYTES + payloadBytes;
    const dataEnd = Math.min(packetEnd, end);
    const cut = packetEnd > end;
    const srcIp = formatIpv6(bytes, at + 8);
    const dstIp = formatIpv6(bytes, at + 24);
    this.setAddresses(6, srcIp, dstIp);
    const payload = this.ipv6Payload;
    if (!walkIpv6Extensions(bytes, bytes[at + 6] as number, at + IPV6_HEADER_BYTES, dataEnd, payload)) return Outcome.NotUdp;
    if (payload.fragment) {
      const key = `6|${srcIp}|${dstIp}|${payload.identification}`;
      return this.addFragment(key, payload.next, payload.fragmentOffset, bytes.subarray(payload.offset, dataEnd), {
        declaredBytes: packetEnd - payload.offset,
        more: payload.more,
        depth,
      });
    }
    return this.decodeTransport(payload.next, bytes, payload.offset, dataEnd, cut, depth);
  }

  private addFragment(
    key: string,
    protocol: number,
    offset: number,
    bytes: Uint8Array,
    { declaredBytes, more, depth }: { declaredBytes: number; more: boolean; depth: number },
  ): Outcome {
    const frame = this.frame as FrameView;
    const origin = {
      frameNo: frame.frameNo,
      tsSec: frame.tsSec,
      tsFracNs: frame.tsFracNs,
      ipVersion: this.ipVersion,
      srcIp: this.srcIp,
      dstIp: this.dstIp,
    };
    const whole = this.reassembler.add({ key, protocol, offset, bytes, declaredBytes, more, origin });
    if (whole === undefined) return Outcome.Fragment;
    return this.decodeTransport(whole.protocol, whole.payload, 0, whole.payload.length, whole.truncated, depth);
  }

  private setAddresses(ipVersion: 4 | 6, srcIp: string, dstIp: string): void {
    this.ipVersion = ipVersion;
    this.srcIp = srcIp;
    this.dstIp = dstIp;
  }

  /** `cut`: the IP packet holding this transport header was cut short by the snap length. */
  private decodeTransport(protocol: number, bytes: Uint8Array, at: number, end: number, cut: boolean, depth: number): Outcome {
    if (protocol === IPPROTO_UDP) return this.decodeUdp(bytes, at, end, cut);
    if (protocol === IPPROTO_TCP) return this.decodeTcp(bytes, at, end, cut);
    if (depth >= MAX_TUNNEL_DEPTH) return Outcome.NotUdp;
    if (protocol === IPPROTO_IPV4) return this.decodeIpv4(bytes, at, end, depth + 1);
    if (protocol === IPPROTO_IPV6) return this.decodeIpv6(bytes, at, end, depth + 1);
    if (protocol === IPPROTO_GRE) return this.decodeGre(bytes, at, end, depth + 1);
    return Outcome.NotUdp;
  }

  private decodeGre(bytes: Uint8Array, at: number, end: number, depth: number): Outcome {
    const inner = locateInGre(bytes, at, end, this.location);
    return this.decodeNetwork(inner.kind, bytes, inner.offset, end, depth);
  }

  /** A TCP segment to its handler (a frame that is not UDP either way, for the counts). */
  private decodeTcp(bytes: Uint8Array, at: number, end: number, cut: boolean): Outcome {
    if (this.onTcpSegment === undefined || end - at < TCP_MIN_HEADER_BYTES) return Outcome.NotUdp;
    const headerBytes = ((bytes[at + 12] as number) >> 4) * 4;
    if (headerBytes < TCP_MIN_HEADER_BYTES || at + headerBytes > end) return Outcome.NotUdp;
    const frame = this.frame as FrameView;
    const segment = this.segment;
    segment.frameNo = frame.frameNo;
    segment.tsSec = frame.tsSec;
    segment.tsFracNs = frame.tsFracNs;
    segment.ipVersion = this.ipVersion;
    segment.srcIp = this.srcIp;
    segment.dstIp = this.dstIp;
    segment.srcPort = readU16(bytes, at);
    segment.dstPort = readU16(bytes, at + 2);
    segment.seq = ((readU16(bytes, at + 4) << 16) | readU16(bytes, at + 6)) >>> 0;
    segment.flags = bytes[at + 13] as number;
    // Copied, as a fragment is: a TCP stream holds bytes that came early, and its parsers hold what they have not read
    // yet, while the reader fills its buffers again (`reuseBuffers`).
    segment.payload = bytes.slice(at + headerBytes, end);
    segment.truncated = cut;
    this.onTcpSegment(segment);
    return Outcome.NotUdp;
  }

  private decodeUdp(bytes: Uint8Array, at: number, end: number, cut: boolean): Outcome {
    return this.decodeUdpAt(bytes, at, end, cut, this.frame as FrameView);
  }

  private decodeUdpAt(bytes: Uint8Array, at: number, end: number, cut: boolean, origin: FrameTime): Outcome {
    if (end - at < UDP_HEADER_BYTES) return Outcome.NotUdp;
    const { decodeStats: stats, datagram } = this;
    const declared = readU16(bytes, at + 4);
    let payloadEnd: number;
    let wireBytes: number;
    let truncated: boolean;
    if (declared < UDP_HEADER_BYTES) {
      // 0 is legal in an IPv6 jumbogram; below 8 otherwise is malformed. Either way the IP packet bounds the payload.
      if (declared !== 0) stats.malformedUdp++;
      payloadEnd = end;
      wireBytes = end - at - UDP_HEADER_BYTES;
      truncated = cut;
    } else {
      payloadEnd = Math.min(at + declared, end);
      wireBytes = declared - UDP_HEADER_BYTES;
      truncated = at + declared > end;
    }
    stats.udpDatagrams++;
    if (truncated) stats.truncatedDatagrams++;
    const srcPort = readU16(bytes, at);
    const dstPort = readU16(bytes, at + 2);
    if (this.ports !== undefined && !this.ports.has(srcPort) && !this.ports.has(dstPort)) return Outcome.Udp;
    stats.keptDatagrams++;
    datagram.frameNo = origin.frameNo;
    datagram.tsSec = origin.tsSec;
    datagram.tsFracNs = origin.tsFracNs;
    datagram.ipVersion = this.ipVersion;
    datagram.srcIp = this.srcIp;
    datagram.dstIp = this.dstIp;
    datagram.srcPort = srcPort;
    datagram.dstPort = dstPort;
    datagram.payload = bytes.subarray(at + UDP_HEADER_BYTES, Math.max(payloadEnd, at + UDP_HEADER_BYTES));
    datagram.wireBytes = wireBytes;
    datagram.truncated = truncated;
    this.onDatagram(datagram);
    return Outcome.Udp;
  }
}

/** The frame fields a datagram takes its number and time from. */
interface FrameTime {
  frameNo: number;
  tsSec: number;
  tsFracNs: number;
}
