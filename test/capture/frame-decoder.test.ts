import { describe, expect, it } from 'vitest';
import { buildIpUdpPacket, buildUdpFrame, fragmentIpv4, wrapInLink } from '../../src/capture/frame-builder.ts';
import { FrameDecoder } from '../../src/capture/frame-decoder.ts';
import { createFrameView } from '../../src/capture/frame.ts';
import { LinkType } from '../../src/capture/link-layer.ts';
import type { UdpDatagram } from '../../src/capture/udp-datagram.ts';

const base = { srcIp: '10.1.2.3', dstIp: '10.9.9.9', srcPort: 40000, dstPort: 20500 };

function decode(frames: { linkType: number; bytes: Uint8Array; originalBytes?: number }[], ports?: number[]) {
  const datagrams: UdpDatagram[] = [];
  const decoder = new FrameDecoder((d) => datagrams.push({ ...d, payload: Buffer.from(d.payload) }), {
    ...(ports !== undefined && { ports: new Set(ports) }),
  });
  frames.forEach((f, index) => {
    const view = createFrameView();
    view.bytes = f.bytes;
    view.offset = 0;
    view.capturedBytes = f.bytes.length;
    view.originalBytes = f.originalBytes ?? f.bytes.length;
    view.linkType = f.linkType;
    view.frameNo = index + 1;
    view.tsSec = 100 + index;
    decoder.decode(view);
  });
  return { datagrams, stats: decoder.finish() };
}

const text = (d: UdpDatagram | undefined): string => Buffer.from(d?.payload ?? []).toString();

function sll2(packet: Uint8Array): Uint8Array {
  const frame = new Uint8Array(20 + packet.length);
  frame[0] = (packet[0] as number) >> 4 === 6 ? 0x86 : 0x08;
  frame[1] = (packet[0] as number) >> 4 === 6 ? 0xdd : 0x00;
  frame.set(packet, 20);
  return frame;
}

function loop(packet: Uint8Array): Uint8Array {
  const frame = new Uint8Array(4 + packet.length);
  frame[3] = 2; // AF_INET in network byte order
  frame.set(packet, 4);
  return frame;
}

describe('frame decoder: link layers', () => {
  const packet = buildIpUdpPacket({ ...base, payload: Buffer.from('hello') });
  it.each([
    { name: 'Ethernet', linkType: LinkType.ETHERNET, bytes: wrapInLink(packet, 'ethernet') },
    { name: 'Ethernet with an 802.1Q tag', linkType: LinkType.ETHERNET, bytes: wrapInLink(packet, 'ethernet', [42]) },
    { name: 'Ethernet with QinQ tags', linkType: LinkType.ETHERNET, bytes: wrapInLink(packet, 'ethernet', [100, 200]) },
    { name: 'Linux cooked (SLL)', linkType: LinkType.LINUX_SLL, bytes: wrapInLink(packet, 'sll') },
    { name: 'Linux cooked v2 (SLL2)', linkType: LinkType.LINUX_SLL2, bytes: sll2(packet) },
    { name: 'raw IP (DLT 12)', linkType: LinkType.RAW_12, bytes: packet },
    { name: 'raw IP (DLT 14)', linkType: LinkType.RAW_14, bytes: packet },
    { name: 'raw IP (LINKTYPE_RAW 101)', linkType: LinkType.RAW, bytes: packet },
    { name: 'raw IPv4 (228)', linkType: LinkType.IPV4, bytes: packet },
    { name: 'BSD null, host byte order', linkType: LinkType.NULL, bytes: wrapInLink(packet, 'null') },
    { name: 'OpenBSD loopback (108)', linkType: LinkType.LOOP, bytes: loop(packet) },
  ])('finds UDP over $name', ({ linkType, bytes }) => {
    const { datagrams, stats } = decode([{ linkType, bytes }]);
    expect(datagrams).toHaveLength(1);
    expect(datagrams[0]).toMatchObject({ srcIp: '10.1.2.3', dstIp: '10.9.9.9', srcPort: 40000, dstPort: 20500, ipVersion: 4 });
    expect(text(datagrams[0])).toBe('hello');
    expect(stats.udpDatagrams).toBe(1);
  });

  it('finds UDP over IPv6 on raw IPv6 (229) and Ethernet', () => {
    const v6 = buildIpUdpPacket({ ...base, srcIp: '2001:db8::1', dstIp: '2001:db8::2', payload: Buffer.from('six') });
    const { datagrams } = decode([
      { linkType: LinkType.IPV6, bytes: v6 },
      { linkType: LinkType.ETHERNET, bytes: wrapInLink(v6, 'ethernet') },
    ]);
    expect(datagrams.map((d) => [d.ipVersion, d.srcIp, d.dstIp, text(d)])).toEqual([
      [6, '2001:db8::1', '2001:db8::2', 'six'],
      [6, '2001:db8::1', '2001:db8::2', 'six'],
    ]);
  });

  it('counts frames of link types it does not decode per link type, without error', () => {
    const { datagrams, stats } = decode([
      { linkType: 127, bytes: new Uint8Array(40) },
      { linkType: 127, bytes: new Uint8Array(40) },
      { linkType: 147, bytes: new Uint8Array(10) },
    ]);
    expect(datagrams).toHaveLength(0);
    expect(stats.unsupportedFrames).toBe(3);
    expect(stats.unsupportedByLinkType).toEqual({ '127': 2, '147': 1 });
  });

  it('counts frames that carry no UDP (ARP, TCP, short garbage) as non-UDP', () => {
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    const tcp = buildIpUdpPacket({ ...base, payload: Buffer.from('x') });
    tcp[9] = 6;
    const { stats } = decode([
      { linkType: LinkType.ETHERNET, bytes: arp },
      { linkType: LinkType.RAW, bytes: tcp },
      { linkType: LinkType.ETHERNET, bytes: new Uint8Array(5) },
    ]);
    expect(stats.nonUdpFrames).toBe(3);
    expect(stats.udpDatagrams).toBe(0);
  });
});

describe('frame decoder: IP', () => {
  it('skips IPv4 options to find UDP', () => {
    const plain = buildIpUdpPacket({ ...base, payload: Buffer.from('opts') });
    const withOptions = new Uint8Array(plain.length + 8);
    withOptions.set(plain.subarray(0, 20));
    withOptions[0] = 0x47; // IHL 7: 8 bytes of options (NOPs)
    withOptions.fill(1, 20, 28);
    withOptions.set(plain.subarray(20), 28);
    withOptions[2] = (withOptions.length >> 8) & 0xff;
    withOptions[3] = withOptions.length & 0xff;
    const { datagrams } = decode([{ linkType: LinkType.RAW, bytes: withOptions }]);
    expect(text(datagrams[0])).toBe('opts');
  });

  it.each([
    { order: 'in order', arrange: (f: Uint8Array[]) => f },
    { order: 'out of order', arrange: (f: Uint8Array[]) => [...f].reverse() },
  ])('reassembles IPv4 fragments $order into one datagram, counted once', ({ arrange }) => {
    const payload = Buffer.from('x'.repeat(1000) + 'END');
    const packet = buildIpUdpPacket({ ...base, payload, ipId: 777 });
    const fragments = fragmentIpv4(packet, 400);
    expect(fragments.length).toBeGreaterThan(2);
    const { datagrams, stats } = decode(arrange(fragments).map((bytes) => ({ linkType: LinkType.RAW, bytes })));
    expect(datagrams).toHaveLength(1);
    expect(Buffer.from(datagrams[0]?.payload ?? [])).toEqual(payload);
    expect(datagrams[0]?.truncated).toBe(false);
    expect(datagrams[0]?.frameNo).toBe(fragments.length);
    expect(stats.reassembledDatagrams).toBe(1);
    expect(stats.fragmentFrames).toBe(fragments.length - 1);
  });

  it('keeps the first fragment of a datagram that never completes, flagged truncated', () => {
    const packet = buildIpUdpPacket({ ...base, payload: Buffer.from('y'.repeat(900)), ipId: 9 });
    const [first] = fragmentIpv4(packet, 400);
    const { datagrams, stats } = decode([{ linkType: LinkType.RAW, bytes: first as Uint8Array }]);
    expect(datagrams).toHaveLength(1);
    expect(datagrams[0]?.truncated).toBe(true);
    expect(datagrams[0]?.wireBytes).toBe(900);
    expect(datagrams[0]?.payload.length).toBe(400 - 8);
    expect(stats.abandonedFragments).toBe(1);
  });

  it('walks IPv6 extension headers and reassembles IPv6 fragments', () => {
    const payload = Buffer.from('z'.repeat(300));
    const packet = buildIpUdpPacket({ ...base, srcIp: 'fe80::1', dstIp: 'fe80::2', payload });
    const upper = packet.subarray(40);
    // Hop-by-hop options (8 bytes), then a fragment header, then UDP split in two.
    const frame = (fragmentOffset: number, more: boolean, part: Uint8Array): Uint8Array => {
      const out = new Uint8Array(40 + 8 + 8 + part.length);
      out.set(packet.subarray(0, 40));
      out[6] = 0; // next: hop-by-hop
      out[4] = ((16 + part.length) >> 8) & 0xff;
      out[5] = (16 + part.length) & 0xff;
      out[40] = 44; // hop-by-hop's next: fragment
      out[41] = 0;
      out[48] = 17; // fragment's next: UDP
      const field = fragmentOffset | (more ? 1 : 0);
      out[50] = field >> 8;
      out[51] = field & 0xff;
      out.set([0, 0, 0x12, 0x34], 52);
      out.set(part, 56);
      return out;
    };
    const { datagrams } = decode([
      { linkType: LinkType.IPV6, bytes: frame(160, false, upper.subarray(160)) },
      { linkType: LinkType.IPV6, bytes: frame(0, true, upper.subarray(0, 160)) },
    ]);
    expect(datagrams).toHaveLength(1);
    expect(datagrams[0]?.srcIp).toBe('fe80::1');
    expect(Buffer.from(datagrams[0]?.payload ?? [])).toEqual(payload);
  });

  it('unwraps GRE to find UDP inside, as mirrored (ERSPAN-style) traffic arrives', () => {
    const inner = buildUdpFrame({ ...base, payload: Buffer.from('inner') });
    const gre = new Uint8Array(4 + inner.length);
    gre.set([0x00, 0x00, 0x65, 0x58]); // transparent Ethernet bridging
    gre.set(inner, 4);
    const outer = buildIpUdpPacket({ srcIp: '192.0.2.1', dstIp: '192.0.2.2', srcPort: 1, dstPort: 2, payload: gre });
    // Turn the outer UDP packet into GRE: protocol 47, payload starts right after the IP header.
    const ip = new Uint8Array(20 + gre.length);
    ip.set(outer.subarray(0, 20));
    ip[9] = 47;
    ip[2] = (ip.length >> 8) & 0xff;
    ip[3] = ip.length & 0xff;
    ip.set(gre, 20);
    const { datagrams } = decode([{ linkType: LinkType.RAW, bytes: ip }]);
    expect(datagrams.map((d) => [d.srcIp, d.dstPort, text(d)])).toEqual([['10.1.2.3', 20500, 'inner']]);
  });

  it('keeps only datagrams to or from the given ports, counting all it found', () => {
    const frames = [20500, 20501, 53].map((dstPort) => ({
      linkType: LinkType.RAW,
      bytes: buildIpUdpPacket({ ...base, dstPort, payload: Buffer.from(String(dstPort)) }),
    }));
    const { datagrams, stats } = decode(frames, [20500, 20501]);
    expect(datagrams.map(text)).toEqual(['20500', '20501']);
    expect(stats.udpDatagrams).toBe(3);
    expect(stats.keptDatagrams).toBe(2);
  });
});
