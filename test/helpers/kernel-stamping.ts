import dgram from 'node:dgram';
import { ipv4Number } from '../../src/core/udp-io/ipv4.js';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';

/**
 * How far an arrival time converted to CLOCK_MONOTONIC may be from the truth: the kernel stamps on CLOCK_REALTIME and
 * the reader converts with the two clocks' offset at the time of the read, so a correction of the wall clock between
 * the arrival and the read moves the stamp. Seen on this project's virtual machine, in one CI run: stamps 1.2 and
 * 1.9 ms before their datagrams were sent, read about 450 ms after they arrived.
 */
export const STAMP_CONVERSION_SLACK_NS = 5_000_000;

/**
 * Runs `fn` while the kernel stamps every datagram when it arrives. Linux turns receive stamping on for the whole
 * system when the first socket asks for it, from a work queue, later on a busy machine; until then a datagram is
 * stamped when it is read, and a test that a busy reader still gets arrival times fails. This opens a socket asking
 * for stamps on `ip`, sends to it until a datagram read 20 ms after its send carries its arrival time (bounded: 50
 * tries), and keeps it open while `fn` runs: stamping stays on while any socket asks for it. The C datagram path
 * (udp-io) must be loaded.
 */
export async function withKernelStamping<T>(ip: string, fn: () => Promise<T>): Promise<T> {
  const io = loadUdpIo();
  if (io === undefined) throw new Error('withKernelStamping needs the C datagram path');
  const fd = io.open(ipv4Number(ip), 0, 1 << 20, true);
  if (fd < 0) throw new Error(`cannot open a stamping socket on ${ip}`);
  const sender = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => sender.bind(0, ip, () => resolve()));
    const port = io.localPort(fd);
    const slab = Buffer.alloc(2048);
    const lengths = new Int32Array(1);
    const from = new Uint32Array(2);
    const stamps = new Float64Array(1);
    for (let attempt = 0; attempt < 50; attempt++) {
      await new Promise<void>((resolve, reject) => sender.send(Buffer.from('warm-up'), port, ip, (error) => (error ? reject(error) : resolve())));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const readAt = Number(process.hrtime.bigint());
      if (io.recv(fd, slab, 2048, lengths, from, stamps) === 1 && readAt - (stamps[0] as number) > 10e6) break;
    }
    return await fn();
  } finally {
    await new Promise<void>((resolve) => sender.close(() => resolve()));
    io.closeFd(fd);
  }
}
