import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpTap, type TappedPacket } from '../../src/observe/udp-tap.ts';
import { relayIoPaths } from '../helpers/relay-io-paths.ts';
import { UdpClient } from '../helpers/udp-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { STAMP_CONVERSION_SLACK_NS, withKernelStamping } from '../helpers/kernel-stamping.ts';
import { sendWhileBlocked } from '../helpers/send-while-blocked.ts';
import { datagramPath } from '../../src/core/udp-io/datagram-path.ts';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';

/** The backend behind the tap: answers each datagram with `ack:` and the bytes, and notes who sent it. */
async function echoBackend(ip: string): Promise<{ socket: dgram.Socket; port: number; senders: string[] }> {
  const socket = dgram.createSocket('udp4');
  const senders: string[] = [];
  socket.on('message', (payload, remote) => {
    senders.push(`${remote.address}:${remote.port}`);
    socket.send(Buffer.concat([Buffer.from('ack:'), payload]), remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, ip, resolve));
  return { socket, port: socket.address().port, senders };
}

const opened: { close(): unknown }[] = [];
afterEach(async () => {
  for (const thing of opened.splice(0).reverse()) await thing.close();
});

describe.each(relayIoPaths())('a recording UDP tap (real sockets, $kind)', (io) => {
  it('forwards each source from a socket of its own, returns each reply only to its source, and records both legs', async () => {
    const backend = await echoBackend('127.0.31.2');
    opened.push(backend.socket);
    const packets: TappedPacket[] = [];
    const tap = new UdpTap({ ip: '127.0.31.1', port: 0 }, { ip: '127.0.31.2', port: backend.port }, (packet) => packets.push({ ...packet, payload: Buffer.from(packet.payload) }), io);
    await tap.start();
    opened.push({ close: () => tap.stop() });
    const devices = await Promise.all(['127.0.31.11', '127.0.31.12', '127.0.31.13'].map((ip) => UdpClient.open(ip)));
    opened.push(...devices);
    for (const [i, device] of devices.entries()) for (let n = 0; n < 20; n++) await device.send(Buffer.from(`d${i}-${n}`), tap.listen.port, '127.0.31.1');
    for (const device of devices) expect(await device.waitForReplies(20)).toBe(20);

    for (const [i, device] of devices.entries()) {
      expect(device.replies.every((r) => r.payload.toString().startsWith(`ack:d${i}-`))).toBe(true);
      expect(device.replies.every((r) => r.from === '127.0.31.1' && r.port === tap.listen.port)).toBe(true);
    }
    // Three devices, three upstream sockets: the backend sees as many sources as there are.
    expect(new Set(backend.senders).size).toBe(3);
    expect(tap.counters).toMatchObject({ forwarded: 60, replies: 60, strayReplies: 0, errors: {} });
    expect(packets.filter((p) => p.direction === 'uplink')).toHaveLength(60);
    expect(packets.filter((p) => p.direction === 'reply')).toHaveLength(60);
    const reply = packets.find((p) => p.direction === 'reply' && p.payload.toString() === 'ack:d1-0');
    expect(reply).toMatchObject({ src: { ip: '127.0.31.1', port: tap.listen.port }, dst: { ip: '127.0.31.12' } });
    expect(reply?.monoNs).toBeGreaterThan(packets.find((p) => p.payload.toString() === 'd1-0')?.monoNs ?? Infinity);
  });

  it('counts a target that refuses, by kind, instead of hiding it', async () => {
    // Nothing listens on the target: the kernel answers port unreachable, which the connected upstream socket reports.
    const closed = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => closed.bind(0, '127.0.31.22', resolve));
    const port = closed.address().port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const tap = new UdpTap({ ip: '127.0.31.21', port: 0 }, { ip: '127.0.31.22', port }, () => undefined, io);
    await tap.start();
    opened.push({ close: () => tap.stop() });
    const device = await UdpClient.open('127.0.31.23');
    opened.push(device);
    await waitFor(async () => {
      await device.send(Buffer.from('anyone?'), tap.listen.port, '127.0.31.21');
      return (tap.counters.errors.refused ?? 0) > 0;
    }, 'the refusal to be counted');
    expect(tap.counters.replies).toBe(0);
    expect(device.replies).toHaveLength(0);
  });

  it('stops forwarding once stopped, and its port is free again', async () => {
    const backend = await echoBackend('127.0.31.32');
    opened.push(backend.socket);
    const tap = new UdpTap({ ip: '127.0.31.31', port: 0 }, { ip: '127.0.31.32', port: backend.port }, () => undefined, io);
    await tap.start();
    const device = await UdpClient.open('127.0.31.33');
    opened.push(device);
    await device.send(Buffer.from('one'), tap.listen.port, '127.0.31.31');
    expect(await device.waitForReplies(1)).toBe(1);
    await tap.stop();
    // Binding the same address and port succeeds only if the tap let go of it.
    const again = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(tap.listen.port, '127.0.31.31', resolve);
    });
    opened.push(again);
    expect(tap.counters.forwarded).toBe(1);
  });

  it.skipIf(process.platform !== 'linux')('counts what the kernel dropped at its own socket while it could not read, so a backend is not blamed for it', async () => {
    const backend = await echoBackend('127.0.31.52');
    opened.push(backend.socket);
    const tap = new UdpTap({ ip: '127.0.31.51', port: 0 }, { ip: '127.0.31.52', port: backend.port }, () => undefined, io);
    await tap.start();
    opened.push({ close: () => tap.stop() });
    // Another process sends 12 MB at the tap while this one (the tap's) is blocked waiting for it: more than the
    // tap's receive buffer (8 MB at most here) holds.
    const datagrams = 200;
    const blast = `const s = require('node:dgram').createSocket('udp4'); s.bind(0, '127.0.31.53', () => { let n = 0; const next = () => n++ < ${datagrams} ? s.send(Buffer.alloc(60000, n), ${tap.listen.port}, '127.0.31.51', next) : s.close(); next(); });`;
    expect(spawnSync(process.execPath, ['-e', blast], { timeout: 20_000 }).status).toBe(0);
    // Those it dropped were packets for the backend (at its listener), not the backend's answers: told apart.
    const packetDrops = (): number => (tap.counters.receiveDrops ?? 0) - (tap.counters.replyDrops ?? 0);
    await waitFor(() => tap.counters.forwarded > 0 && (tap.countDrops(), tap.counters.forwarded + packetDrops() === datagrams), 'every datagram to be forwarded or counted as dropped', 10_000);
    expect(packetDrops()).toBeGreaterThan(0);
    expect(tap.counters.replyDrops).not.toBeNull();
    expect(tap.counters.forwarded).toBeGreaterThan(0);
  });
});

describe.skipIf(loadUdpIo() === undefined)('a recording UDP tap on the C datagram path', () => {
  it('times a packet when it reached the tap (the kernel stamps it), not when its busy thread got to read it', async () => {
    const backend = await echoBackend('127.0.31.42');
    opened.push(backend.socket);
    const packets: TappedPacket[] = [];
    const tap = new UdpTap({ ip: '127.0.31.41', port: 0 }, { ip: '127.0.31.42', port: backend.port }, (packet) => packets.push(packet), datagramPath('native'));
    await tap.start();
    opened.push({ close: () => tap.stop() });
    // This thread (the tap's) spins for half a second; another sends to the tap 50 ms into it.
    const { sentNs, unblockedNs } = await withKernelStamping('127.0.31.44', () => sendWhileBlocked(Buffer.from('read late'), { ip: '127.0.31.41', port: tap.listen.port }, '127.0.31.43'));
    await waitFor(() => packets.some((p) => p.direction === 'uplink'), 'the packet to be recorded');
    const uplink = packets.find((p) => p.direction === 'uplink') as TappedPacket;
    expect(uplink.monoNs).toBeGreaterThanOrEqual(sentNs - BigInt(STAMP_CONVERSION_SLACK_NS));
    // Read only once the thread was free, and timed when it arrived, before that.
    expect(uplink.monoNs).toBeLessThan(unblockedNs);
  });
});
