import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'pcap-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaptureTruncatedError, isParityError } from '../../src/core/errors.ts';
import { requirePrerequisite } from '../helpers/prerequisite.ts';
import { readAll, type ReadOutcome } from '../helpers/read-frames.ts';

/**
 * Captures written by Wireshark's own tools (text2pcap builds the IP and UDP headers, editcap and mergecap convert,
 * cut and merge), read by our reader and by tshark, frame by frame. The corpus in ../shared is richer but is not in a
 * clone; these are made wherever tshark is installed, so CI holds the reader to an independent decoder too.
 */
const TOOLS = ['text2pcap', 'editcap', 'mergecap', 'tshark'];
const toolsPresent = TOOLS.every((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0);
const available = requirePrerequisite(toolsPresent, `Wireshark's tools (${TOOLS.join(', ')}: apt-get install tshark)`);

/** A payload per packet, of lengths 1 to 200 (a zero-length one cannot be written as a hex dump), and its time. */
const PACKETS = Array.from({ length: 24 }, (_, i) => ({
  time: `10:15:${String(10 + i).padStart(2, '0')}.${String(123456 + i * 37_111).padStart(6, '0')}`,
  payload: Buffer.from(Array.from({ length: 1 + ((i * 53) % 200) }, (_, b) => (b * 7 + i) & 0xff)),
}));

function hexDump(frames: readonly { time: string; bytes: Buffer }[]): string {
  return frames
    .map(({ time, bytes }) => {
      const lines = [time];
      for (let offset = 0; offset < bytes.length; offset += 16) {
        const row = [...bytes.subarray(offset, offset + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
        lines.push(`${offset.toString(16).padStart(6, '0')}  ${row}`);
      }
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

function text2pcap(dir: string, name: string, frames: readonly { time: string; bytes: Buffer }[], args: readonly string[]): string {
  const input = join(dir, `${name}.txt`);
  const output = join(dir, `${name}.pcap`);
  writeFileSync(input, hexDump(frames));
  execFileSync('text2pcap', ['-q', '-F', 'pcap', '-t', '%H:%M:%S.%f', ...args, input, output], { stdio: 'ignore' });
  return output;
}

/** The frames of a classic pcap as pcap-parser reads them: to put another link layer's header in front of their IP. */
function pcapFrames(path: string): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const frames: Buffer[] = [];
    const parser = parse(path);
    parser.on('packet', (packet) => frames.push(Buffer.from(packet.data)));
    parser.on('error', reject);
    parser.on('end', () => resolve(frames));
  });
}

/**
 * An IPv4 packet cut into fragments of `size` bytes of its payload (a multiple of 8), as RFC 791 lays them out: each
 * with the packet's header, its own total length, offset and more-fragments flag, and its checksum again.
 */
function fragmentIpv4(packet: Buffer, id: number, size: number): Buffer[] {
  const headerBytes = ((packet[0] ?? 0) & 0x0f) * 4;
  const header = packet.subarray(0, headerBytes);
  const payload = packet.subarray(headerBytes);
  const fragments: Buffer[] = [];
  for (let offset = 0; offset < payload.length; offset += size) {
    const chunk = payload.subarray(offset, offset + size);
    const fragment = Buffer.concat([header, chunk]);
    fragment.writeUInt16BE(fragment.length, 2);
    fragment.writeUInt16BE(id, 4);
    fragment.writeUInt16BE((offset + size < payload.length ? 0x2000 : 0) | (offset / 8), 6);
    fragment.writeUInt16BE(0, 10);
    let sum = 0;
    for (let i = 0; i < headerBytes; i += 2) sum += fragment.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    fragment.writeUInt16BE(~sum & 0xffff, 10);
    fragments.push(fragment);
  }
  return fragments;
}

/** An IPv6 packet cut into fragments (RFC 8200): the header, a fragment header, and `size` bytes of what follows. */
function fragmentIpv6(packet: Buffer, id: number, size: number): Buffer[] {
  const header = Buffer.from(packet.subarray(0, 40));
  const nextHeader = header[6] as number;
  header[6] = 44;
  const fragmentable = packet.subarray(40);
  const fragments: Buffer[] = [];
  for (let offset = 0; offset < fragmentable.length; offset += size) {
    const chunk = fragmentable.subarray(offset, offset + size);
    const fragmentHeader = Buffer.alloc(8);
    fragmentHeader[0] = nextHeader;
    fragmentHeader.writeUInt16BE(offset | (offset + size < fragmentable.length ? 1 : 0), 2);
    fragmentHeader.writeUInt32BE(id, 4);
    const fragment = Buffer.concat([header, fragmentHeader, chunk]);
    fragment.writeUInt16BE(8 + chunk.length, 4);
    fragments.push(fragment);
  }
  return fragments;
}

/** Link-layer headers in front of an IP packet, as https://www.tcpdump.org/linktypes.html lays them out. */
const LINK_HEADERS: Record<string, { linkType: number; header: (ipVersion: 4 | 6, ipBytes: number) => Buffer }> = {
  // BSD loopback: the address family in the host's byte order (AF_INET 2; AF_INET6 24, 28 or 30 by system).
  null: { linkType: 0, header: (v) => Buffer.from(v === 4 ? [2, 0, 0, 0] : [30, 0, 0, 0]) },
  // OpenBSD loopback: the same, in network byte order.
  loop: { linkType: 108, header: (v) => Buffer.from(v === 4 ? [0, 0, 0, 2] : [0, 0, 0, 24]) },
  // Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol.
  sll: {
    linkType: 113,
    header: (v) => Buffer.from([0, 0, 0, 1, 0, 6, 0x02, 0x42, 0xac, 0x11, 0, 2, 0, 0, ...(v === 4 ? [0x08, 0x00] : [0x86, 0xdd])]),
  },
  // Linux cooked v2: protocol, reserved, interface index, ARPHRD, packet type, address length, 8 address bytes.
  sll2: {
    linkType: 276,
    header: (v) => Buffer.from([...(v === 4 ? [0x08, 0x00] : [0x86, 0xdd]), 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 0x02, 0x42, 0xac, 0x11, 0, 2, 0, 0]),
  },
  // Ethernet with an 802.1Q tag and a QinQ outer tag.
  qinq: {
    linkType: 1,
    header: (v) =>
      Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, ...(v === 4 ? [0x08, 0x00] : [0x86, 0xdd])]),
  },
};

interface TsharkFrame {
  frame: number;
  time: string;
  udp: { srcPort: number; dstPort: number; length: number; src: string } | undefined;
}

/** What tshark makes of every frame: its time, and its UDP header where it found one (not one quoted in ICMP). */
function tsharkFrames(path: string, defragment = false): { frames: TsharkFrame[]; stderr: string } {
  const result = spawnSync(
    'tshark',
    ['-r', path, '-o', `ip.defragment:${defragment ? 'TRUE' : 'FALSE'}`, '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'frame.protocols', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'udp.length', '-e', 'ip.src', '-e', 'ipv6.src'],
    { encoding: 'utf8' },
  );
  const frames = result.stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line): TsharkFrame => {
      const [frame = '', time = '', protocols = '', srcPort = '', dstPort = '', length = '', ip4 = '', ip6 = ''] = line.split('|');
      const layers = protocols.split(':');
      const udpHere = layers.includes('udp') && !layers.includes('icmp') && !layers.includes('icmpv6');
      return {
        frame: Number(frame),
        time,
        udp: udpHere ? { srcPort: Number(srcPort.split(',')[0]), dstPort: Number(dstPort.split(',')[0]), length: Number(length.split(',')[0]), src: (ip4 || ip6).split(',')[0] ?? '' } : undefined,
      };
    });
  return { frames, stderr: result.stderr };
}

/** Ours and tshark's, frame by frame: the same frames at the same times, the same UDP datagrams with the same lengths. */
function expectSameAsTshark(path: string, ours: ReadOutcome, expectedDatagrams: number, defragment = false): void {
  const theirs = tsharkFrames(path, defragment).frames;
  expect(ours.frames.length, path).toBe(theirs.length);
  expect(ours.frames.map((f) => `${f.tsSec}.${String(f.tsFracNs).padStart(9, '0')}`)).toEqual(theirs.map((f) => f.time));
  const theirUdp = theirs.filter((f) => f.udp !== undefined);
  expect(theirUdp).toHaveLength(expectedDatagrams);
  expect(ours.datagrams.map((d) => ({ frame: d.frameNo, srcPort: d.srcPort, dstPort: d.dstPort, length: d.wireBytes + 8, src: d.srcIp }))).toEqual(
    theirUdp.map((f) => ({ frame: f.frame, ...f.udp })),
  );
}

describe.runIf(available)('captures written by Wireshark\'s tools, read by us and by tshark', () => {
  let dir = '';
  /** One classic pcap per link type, with the UDP datagrams it holds. */
  const files: Record<string, { path: string; udp: number }> = {};
  /** IPv4 datagrams alone, in Ethernet frames: the snap length's file. */
  let eth4 = '';
  const mergecap = (name: string, parts: readonly string[], format = 'pcap'): string => {
    const path = join(dir, name);
    execFileSync('mergecap', ['-F', format, '-w', path, ...parts], { stdio: 'ignore' });
    return path;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wireshark-built-'));
    const packets = PACKETS.map(({ time, payload }) => ({ time, bytes: payload }));
    const udp = PACKETS.length;
    eth4 = text2pcap(dir, 'eth4', packets, ['-4', '10.1.0.1,10.1.0.2', '-u', '40001,20500']);
    const eth6 = text2pcap(dir, 'eth6', packets, ['-6', '2001:db8::1,2001:db8::2', '-u', '40002,20500']);
    // Not UDP: TCP segments, and ARP's bytes, in Ethernet frames among the datagrams.
    const tcp = text2pcap(dir, 'tcp', packets.slice(0, 6), ['-4', '10.1.0.1,10.1.0.2', '-T', '40001,443']);
    const arp = text2pcap(dir, 'arp', packets.slice(0, 4).map((p) => ({ ...p, bytes: Buffer.alloc(28, 1) })), ['-e', '0x806']);
    files.ethernet = { path: mergecap('ethernet.pcap', [eth4, eth6, tcp, arp]), udp: 2 * udp };
    const raw4 = text2pcap(dir, 'raw4', packets, ['-l', '101', '-4', '10.1.0.3,10.1.0.2', '-u', '40003,20500']);
    const raw6 = text2pcap(dir, 'raw6', packets, ['-l', '101', '-6', '2001:db8::3,2001:db8::2', '-u', '40004,20500']);
    files.raw = { path: mergecap('raw.pcap', [raw4, raw6]), udp: 2 * udp };
    files.ipv4 = { path: text2pcap(dir, 'ipv4', packets, ['-l', '228', '-4', '10.1.0.5,10.1.0.2', '-u', '40005,20500']), udp };
    files.ipv6 = { path: text2pcap(dir, 'ipv6', packets, ['-l', '229', '-6', '2001:db8::5,2001:db8::2', '-u', '40006,20500']), udp };
    // Other link layers, in front of the IP packets text2pcap built, both versions in one file.
    const raw = { 4: await pcapFrames(raw4), 6: await pcapFrames(raw6) } as const;
    for (const [name, link] of Object.entries(LINK_HEADERS)) {
      const framed = ([4, 6] as const).flatMap((version) => raw[version].map((ip, i) => ({ time: PACKETS[i]?.time ?? '', bytes: Buffer.concat([link.header(version, ip.length), ip]) })));
      files[name] = { path: text2pcap(dir, name, framed, ['-l', String(link.linkType)]), udp: 2 * udp };
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads every link type as tshark does: each frame at its time, each UDP datagram with its ports and length', async () => {
    for (const [name, { path, udp }] of Object.entries(files)) {
      const ours = await readAll(path);
      expect(ours.error, name).toBeUndefined();
      expectSameAsTshark(path, ours, udp);
      // Every payload whole, byte for byte (their lengths are all different: a length names its packet).
      for (const datagram of ours.datagrams) {
        expect(Buffer.from(datagram.payload), name).toEqual(PACKETS.find((p) => p.payload.length === datagram.payload.length)?.payload);
      }
    }
  });

  it.each(['pcapng', 'nsecpcap', 'modpcap'])('reads them converted by editcap to %s (into pcapng: every link type merged into one file by mergecap)', async (format) => {
    // Classic pcap holds one link type: Ethernet's file stands for them there.
    const parts = format === 'pcapng' ? Object.values(files) : [files.ethernet as { path: string; udp: number }];
    const merged = mergecap(`merged-${format}`, parts.map((f) => f.path), format === 'pcapng' ? 'pcapng' : 'pcap');
    const converted = join(dir, `converted.${format}`);
    execFileSync('editcap', ['-F', format, merged, converted], { stdio: 'ignore' });
    const ours = await readAll(converted);
    expect(ours.error).toBeUndefined();
    if (format === 'pcapng') expect([...new Set(ours.frames.map((f) => f.linkType))].sort((a, b) => a - b)).toEqual([0, 1, 101, 108, 113, 228, 229, 276]);
    expectSameAsTshark(converted, ours, parts.reduce((sum, f) => sum + f.udp, 0));
  });

  it('reassembles IPv4 and IPv6 fragments, in order and out of order, into the datagrams tshark reassembles, on the same frames', async () => {
    const big = Array.from({ length: 6 }, (_, i) => ({ time: PACKETS[i]?.time ?? '', bytes: Buffer.from(Array.from({ length: 2400 + i * 111 }, (_, b) => (b + i) & 0xff)) }));
    const whole = await pcapFrames(text2pcap(dir, 'big4', big, ['-l', '101', '-4', '10.1.0.7,10.1.0.2', '-u', '40007,20500']));
    // Three datagrams' fragments in order, three's last fragment first; the second datagram's interleaved with the third's.
    const fragmented = whole.map((packet, i) => fragmentIpv4(packet, 0x100 + i, 1000)).map((fragments, i) => (i >= 3 ? fragments.reverse() : fragments));
    const order = [...(fragmented[0] ?? []), ...(fragmented[1] ?? []).flatMap((f, k) => [f, fragmented[2]?.[k]].filter((x): x is Buffer => x !== undefined)), ...fragmented.slice(3).flat()];
    // And IPv6's, in order and last first.
    const whole6 = await pcapFrames(text2pcap(dir, 'big6', big.slice(0, 2), ['-l', '101', '-6', '2001:db8::7,2001:db8::2', '-u', '40008,20500']));
    order.push(...whole6.flatMap((packet, i) => (i === 0 ? fragmentIpv6(packet, 0x200 + i, 1000) : fragmentIpv6(packet, 0x200 + i, 1000).reverse())));
    const path = text2pcap(dir, 'fragments', order.map((bytes, i) => ({ time: PACKETS[i % PACKETS.length]?.time ?? '', bytes })), ['-l', '101']);
    const ours = await readAll(path);
    expect(ours.error).toBeUndefined();
    expectSameAsTshark(path, ours, big.length + 2, true);
    const payloads = (version: 4 | 6): Buffer[] => ours.datagrams.filter((d) => d.ipVersion === version).map((d) => Buffer.from(d.payload));
    expect(payloads(4)).toHaveLength(big.length);
    expect(payloads(4)).toEqual(expect.arrayContaining(big.map((b) => b.bytes)));
    expect(payloads(6)).toEqual(big.slice(0, 2).map((b) => b.bytes));
    expect(ours.datagrams.every((d) => !d.truncated)).toBe(true);
  });

  it('flags datagrams that a snap length cut short, with the length their header declares, as tshark reads them', async () => {
    const cut = join(dir, 'snap.pcapng');
    execFileSync('editcap', ['-s', '60', eth4, cut], { stdio: 'ignore' });
    const ours = await readAll(cut);
    expect(ours.error).toBeUndefined();
    expectSameAsTshark(cut, ours, PACKETS.length);
    // Ethernet 14 + IPv4 20 + UDP 8: 18 payload bytes captured of each.
    for (const [i, datagram] of ours.datagrams.entries()) {
      const length = PACKETS[i]?.payload.length ?? 0;
      expect(datagram.truncated).toBe(length > 18);
      expect(datagram.payload.length).toBe(Math.min(length, 18));
      expect(Buffer.from(datagram.payload)).toEqual(PACKETS[i]?.payload.subarray(0, 18));
    }
  });

  it('keeps every whole frame of a file cut off in the middle of one, names the offset, and tshark reads the same frames', async () => {
    const merged = mergecap('whole.pcapng', Object.values(files).map((f) => f.path), 'pcapng');
    const bytes = readFileSync(merged);
    for (const keep of [0.37, 0.81]) {
      const cut = join(dir, `cut-${keep}.pcapng`);
      writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * keep)));
      const ours = await readAll(cut);
      expect(isParityError(ours.error), String(ours.error)).toBe(true);
      expect(ours.error).toBeInstanceOf(CaptureTruncatedError);
      expect((ours.error as Error).message).toMatch(/byte offset \d+/);
      const theirs = tsharkFrames(cut);
      expect(theirs.stderr).toMatch(/cut short|appears to have been cut short/i);
      expect(ours.frames.length).toBeGreaterThan(0);
      expectSameAsTshark(cut, ours, theirs.frames.filter((f) => f.udp !== undefined).length);
    }
  });
});
