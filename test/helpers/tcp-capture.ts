import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { pcapFile } from './capture-bytes.ts';
import { readAll, type FrameRecord } from './read-frames.ts';
import { waitFor } from './wait-for.ts';

/**
 * Captures the TCP to `host:port` with tcpdump while `traffic` runs, until tcpdump got every segment of it (on a
 * loaded machine it can miss some: then the capture is taken again, at most three times). Whether it is whole is
 * checked from the raw frames, not by the code under test.
 */
export async function captureWholeTcp<T>(file: string, host: string, port: number, traffic: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const result = await captureOnce(file, host, port, traffic);
    const { frames } = await readAll(file);
    if (wholeStreams(frames) || attempt === 3) return result;
  }
}

/** Every direction of every connection from its SYN to its FIN, with no byte range missing. */
function wholeStreams(frames: readonly FrameRecord[]): boolean {
  const directions = new Map<string, { isn?: number; fin?: number; ranges: [number, number][] }>();
  for (const frame of frames) {
    const { srcPort, dstPort, seq, flags, payload } = tcpOf(frame);
    const key = `${srcPort}>${dstPort}`;
    const direction = directions.get(key) ?? { ranges: [] };
    directions.set(key, direction);
    if ((flags & 0x02) !== 0) direction.isn = seq;
    if ((flags & 0x01) !== 0) direction.fin = seq + payload;
    if (payload > 0) direction.ranges.push([seq, seq + payload]);
  }
  return [...directions.values()].every((d) => {
    const { isn, fin } = d;
    if (isn === undefined || fin === undefined) return false;
    // Relative to the ISN, so a sequence number that wraps past 2^32 still compares right.
    const rel = (seq: number): number => (seq - isn) >>> 0;
    let next = 1;
    for (const [from, to] of d.ranges.map(([a, b]) => [rel(a), rel(b)]).sort((a, b) => (a[0] as number) - (b[0] as number))) {
      if ((from as number) > next) return false;
      next = Math.max(next, to as number);
    }
    return next === rel(fin);
  });
}

async function captureOnce<T>(file: string, host: string, port: number, traffic: () => Promise<T>): Promise<T> {
  const tcpdump = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-B', '32768', '-s', '0', '-w', file, `host ${host} and tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  tcpdump.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await waitFor(() => err.includes('listening on'), 'tcpdump to listen');
  try {
    return await traffic();
  } finally {
    // Let the last FINs reach the capture before it stops.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise((resolve) => tcpdump.once('exit', resolve));
    tcpdump.kill('SIGINT');
    await exited;
  }
}

/** The TCP header fields of an Ethernet + IPv4 frame, and its payload length. */
export function tcpOf(frame: FrameRecord): { srcPort: number; dstPort: number; seq: number; flags: number; payload: number } {
  const ip = 14;
  const tcp = ip + ((frame.bytes[ip] as number) & 0x0f) * 4;
  return {
    srcPort: frame.bytes.readUInt16BE(tcp),
    dstPort: frame.bytes.readUInt16BE(tcp + 2),
    seq: frame.bytes.readUInt32BE(tcp + 4),
    flags: frame.bytes[tcp + 13] as number,
    payload: frame.bytes.length - tcp - ((frame.bytes[tcp + 12] as number) >> 4) * 4,
  };
}

/** Frames that carry TCP payload from a client (any source port but the server's): their index and the client's port. */
export function clientDataFrames(frames: readonly FrameRecord[], serverPort: number): { index: number; port: number }[] {
  return frames.flatMap((frame, index) => {
    const { srcPort, payload } = tcpOf(frame);
    return srcPort !== serverPort && payload > 0 ? [{ index, port: srcPort }] : [];
  });
}

/** The capture's frames rewritten: the same bytes, in another order, some twice or missing. */
export function rewritePcap(file: string, frames: readonly FrameRecord[]): void {
  writeFileSync(file, pcapFile({ linkType: frames[0]?.linkType ?? 1, records: frames.map((f) => ({ sec: f.tsSec, frac: Math.floor(f.tsFracNs / 1000), frame: f.bytes, originalBytes: f.originalBytes })) }));
}
