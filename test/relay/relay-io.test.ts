import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DatagramSocket, Sender } from '../../src/core/udp-io/datagram-socket.ts';
import { kernelUdpSockets } from '../../src/core/udp-socket-table.ts';
import { loadUdpIo, udpIoMissing } from '../../src/core/udp-io/udp-io.ts';
import { addonsBuildable } from '../helpers/addon-buildable.ts';
import { STAMP_CONVERSION_SLACK_NS, withKernelStamping } from '../helpers/kernel-stamping.ts';
import { relayIoPaths } from '../helpers/relay-io-paths.ts';
import { runParity, spawnParity } from '../helpers/run-parity.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

const LISTEN_IP = '127.0.9.1';
const PORT = 23_900;
const BACKEND_IP = '127.0.9.2';
const BUFFER_BYTES = 4 * 1024 * 1024;

const opened: (DatagramSocket | dgram.Socket)[] = [];
afterEach(async () => {
  for (const socket of opened.splice(0)) {
    if (socket instanceof dgram.Socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    else await socket.close();
  }
});

/** A payload's length and hash: comparing 65 kB buffers element by element takes the matcher seconds. */
const digest = (payload: Buffer): string => `${payload.length}:${createHash('sha256').update(payload).digest('hex')}`;

async function nodeSocket(ip: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER_BYTES });
  await new Promise<void>((resolve) => socket.bind(port, ip, () => resolve()));
  opened.push(socket);
  return socket;
}

describe('the relay C datagram path is built where it can be', () => {
  it('npm install built build/udp-io.node where there are a C compiler and Node headers, and it loads', () => {
    // Where the addon can be built, the suite must exercise it: an install that silently fell back would leave the
    // relay's default path untested.
    if (addonsBuildable) expect(loadUdpIo(), udpIoMissing).toBeDefined();
    expect(relayIoPaths().map((io) => io.kind)).toEqual(loadUdpIo() === undefined ? ['dgram'] : ['native', 'dgram']);
  });
});

describe('the C datagram path: arrival times from the kernel', () => {
  it.skipIf(loadUdpIo() === undefined).each(['its own read', "its group's read"])('a socket opened with timestamps hands over when each datagram arrived, not when it was read (%s)', async (how) => {
    const io = loadUdpIo()!;
    const receiverIp = (127 << 24) | (9 << 8) | 7;
    const fd = io.open(receiverIp, 0, BUFFER_BYTES, true);
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      const port = io.localPort(fd);
      const sender = await nodeSocket('127.0.9.8');
      const slab = Buffer.alloc(4 * 2048);
      const lengths = new Int32Array(4);
      const from = new Uint32Array(8);
      const stamps = new Float64Array(4);
      // Each send is bracketed: when it was asked for, and when Node said it was done (loopback delivers within the
      // system call, so the datagram arrived in between). A busy machine can stretch the bracket, never move it.
      const sentAt: number[] = [];
      const doneAt: number[] = [];
      // With receive stamping switched on for the system first (kernel-stamping.ts).
      const readAt = await withKernelStamping('127.0.9.9', async () => {
        for (let i = 0; i < 3; i++) {
          sentAt.push(Number(process.hrtime.bigint()));
          await new Promise<void>((resolve, reject) => sender.send(Buffer.from(`datagram ${i}`), port, '127.0.9.7', (error) => (error ? reject(error) : resolve())));
          doneAt.push(Number(process.hrtime.bigint()));
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // Read well after the last arrived: read times would all be now, arrival times 20 ms apart from the sends'.
        await new Promise((resolve) => setTimeout(resolve, 100));
        return Number(process.hrtime.bigint());
      });
      if (how === 'its own read') expect(io.recv(fd, slab, 2048, lengths, from, stamps)).toBe(3);
      else {
        const group = io.groupOpen();
        expect(io.groupAdd(group, fd)).toBe(0);
        const fds = new Int32Array(4);
        expect(io.groupRecv(group, slab, 2048, lengths, from, fds, stamps)).toBe(3);
        expect([...fds.subarray(0, 3)]).toEqual([fd, fd, fd]);
        io.closeFd(group);
      }
      for (let i = 0; i < 3; i++) {
        const stamp = stamps[i] as number;
        // On the same clock as process.hrtime (CLOCK_MONOTONIC, to within what converting the kernel's wall-clock
        // stamp may be off): inside its send's bracket, long before the read.
        expect(stamp).toBeGreaterThanOrEqual((sentAt[i] as number) - STAMP_CONVERSION_SLACK_NS);
        expect(stamp).toBeLessThanOrEqual((doneAt[i] as number) + STAMP_CONVERSION_SLACK_NS);
        expect(readAt - stamp).toBeGreaterThan(90e6);
      }
      expect(stamps[1]! - stamps[0]!).toBeGreaterThan(15e6);
    } finally {
      io.closeFd(fd);
    }
  });
});

describe.each(relayIoPaths())('the relay socket on $kind (real UDP on loopback)', (io) => {
  it('hands over every datagram of a burst with its sender, sizes 0 to 65,507 bytes, each sender in order', { timeout: 20_000 }, async () => {
    const listener = await io.listen(LISTEN_IP, PORT, BUFFER_BYTES);
    opened.push(listener);
    const got: { payload: Buffer; from: Sender }[] = [];
    listener.onMessage((payload, from) => got.push({ payload, from }));
    const senders = await Promise.all(['127.0.9.11', '127.0.9.12', '127.0.9.13'].map((ip) => nodeSocket(ip)));
    const sizes = [0, 1, 100, 1500, 9000, 65_507];
    const expected: { ip: string; port: number; payload: Buffer }[] = [];
    // 3 x 60 datagrams sent at once: more than one batch of 64 waits on the listener.
    for (let i = 0; i < 60; i++) {
      for (const [k, sender] of senders.entries()) {
        const size = sizes[(i + k) % sizes.length] as number;
        const payload = Buffer.alloc(size, (i * 3 + k) & 255);
        if (size >= 2) payload.writeUInt16BE(i, 0);
        expected.push({ ip: sender.address().address, port: sender.address().port, payload });
        sender.send(payload, PORT, LISTEN_IP);
      }
    }
    await waitFor(() => got.length === expected.length, `${expected.length} datagrams`, 10_000);
    for (const sender of senders) {
      const { address, port } = sender.address();
      const sent = expected.filter((e) => e.ip === address && e.port === port).map((e) => digest(e.payload));
      const received = got.filter((g) => g.from.address === address && g.from.port === port).map((g) => digest(g.payload));
      expect(received).toEqual(sent);
    }
    // Each payload is the handler's to keep: a later batch does not overwrite an earlier one.
    const first = expected.find((e) => e.ip === got[0]?.from.address && e.port === got[0]?.from.port);
    expect(got[0] && digest(got[0].payload)).toBe(first && digest(first.payload));
  });

  it('answers a device from the listener, and a backend on a connected upstream socket', async () => {
    const listener = await io.listen(LISTEN_IP, PORT, BUFFER_BYTES);
    opened.push(listener);
    const device = await nodeSocket('127.0.9.21');
    const backend = await nodeSocket(BACKEND_IP, PORT);
    backend.on('message', (payload, from) => backend.send(Buffer.concat([Buffer.from('ack '), payload]), from.port, from.address));
    const upstream = io.upstream(BACKEND_IP, PORT, '127.0.9.3', BUFFER_BYTES);
    opened.push(upstream);
    const fromBackend: Buffer[] = [];
    const sources: string[] = [];
    backend.on('message', (_payload, from) => sources.push(from.address));
    upstream.onMessage((payload) => fromBackend.push(payload));
    const sendErrors: unknown[] = [];
    listener.onMessage((payload, from) => {
      upstream.send(payload, (error) => error !== null && sendErrors.push(error));
      listener.sendTo(Buffer.from(`seen ${payload.toString()}`), from.port, from.address);
    });
    const toDevice: string[] = [];
    device.on('message', (payload, from) => toDevice.push(`${from.address}:${from.port} ${payload.toString()}`));
    device.send('one', PORT, LISTEN_IP);
    device.send('two', PORT, LISTEN_IP);
    await waitFor(() => fromBackend.length === 2 && toDevice.length === 2, 'both answers');
    expect(fromBackend.map(String)).toEqual(['ack one', 'ack two']);
    expect(toDevice).toEqual([`${LISTEN_IP}:${PORT} seen one`, `${LISTEN_IP}:${PORT} seen two`]);
    // The upstream socket sends from the source address it was given.
    expect(sources).toEqual(['127.0.9.3', '127.0.9.3']);
    expect(sendErrors).toEqual([]);
  });

  it('reports a backend that refuses (ICMP port unreachable), then still reads its answers once it is up', async () => {
    const upstream = io.upstream(BACKEND_IP, PORT + 1, undefined, BUFFER_BYTES);
    opened.push(upstream);
    const errors: string[] = [];
    const answers: string[] = [];
    upstream.onError((error) => errors.push(String(error.code)));
    upstream.onMessage((payload) => answers.push(payload.toString()));
    const sendErrors: string[] = [];
    const send = (text: string): void => upstream.send(Buffer.from(text), (error) => error !== null && sendErrors.push(String(error.code)));
    for (let i = 0; i < 5 && errors.length + sendErrors.length === 0; i++) {
      send(`to nobody ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitFor(() => errors.length + sendErrors.length > 0, 'the refusal to be reported');
    expect([...errors, ...sendErrors]).toContain('ECONNREFUSED');
    const backend = await nodeSocket(BACKEND_IP, PORT + 1);
    backend.on('message', (payload, from) => backend.send(Buffer.from(`ack ${payload.toString()}`), from.port, from.address));
    // A refusal may still be pending from the last send to nobody: the first send now may report it instead of leaving.
    for (let i = 0; i < 20 && answers.length === 0; i++) {
      send('hello');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(answers).toContain('ack hello');
  });

  it('stops calling back once closed, and frees its port', async () => {
    const listener = await io.listen(LISTEN_IP, PORT + 2, BUFFER_BYTES);
    let after = 0;
    let closed = false;
    listener.onMessage(() => closed && after++);
    const device = await nodeSocket('127.0.9.31');
    await listener.close();
    closed = true;
    device.send('late', PORT + 2, LISTEN_IP);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(after).toBe(0);
    const again = await io.listen(LISTEN_IP, PORT + 2, BUFFER_BYTES);
    opened.push(again);
    let received = 0;
    again.onMessage(() => received++);
    device.send('again', PORT + 2, LISTEN_IP);
    await waitFor(() => received === 1, 'the datagram on the port bound again');
  });

  it('frees its address by the time close resolves, even closed from the event loop\'s close phase', async () => {
    const listener = await io.listen(LISTEN_IP, PORT + 4, BUFFER_BYTES);
    // A TCP socket's 'close' event runs in libuv's close phase (as a caller's cleanup may); the loop is then held long
    // enough for a timer set meanwhile to be due before the next close phase.
    const server = net.createServer((connection) => connection.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.9.41', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.9.41');
    await new Promise((resolve) => client.once('connect', resolve));
    const closed = new Promise<void>((resolve, reject) =>
      client.once('close', () => {
        listener.close().then(resolve, reject);
        const until = Date.now() + 5;
        while (Date.now() < until);
      }),
    );
    client.destroy();
    await closed;
    server.close();
    const again = await io.listen(LISTEN_IP, PORT + 4, BUFFER_BYTES);
    opened.push(again);
    expect(again.localPort()).toBe(PORT + 4);
  });

  it('with batchedSends, every answer sent while a burst is handed out leaves, in order, to its device; a send the kernel refuses is reported and the rest still leave', { timeout: 20_000 }, async () => {
    const listener = await io.listen(LISTEN_IP, PORT + 5, BUFFER_BYTES, { batchedSends: true });
    opened.push(listener);
    const errors: string[] = [];
    listener.onError((error) => errors.push(String(error.code)));
    const devices = await Promise.all(['127.0.9.51', '127.0.9.52', '127.0.9.53'].map((ip) => nodeSocket(ip)));
    const answered = new Map<number, string[]>(devices.map((d) => [d.address().port, []]));
    for (const device of devices) device.on('message', (payload) => answered.get(device.address().port)?.push(digest(payload)));
    let handed = 0;
    listener.onMessage((payload, from) => {
      listener.sendTo(payload, from.port, from.address);
      // One byte more than an IPv4 datagram can carry: the kernel refuses it (EMSGSIZE) in the middle of a run.
      if (++handed % 10 === 0) listener.sendTo(Buffer.alloc(65_508), from.port, from.address);
    });
    // 3 x 60 datagrams up to 65,507 bytes at once: the answers of one burst are more bytes than one run packs.
    const sizes = [0, 1, 100, 1500, 9000, 65_507];
    const sent = new Map<number, string[]>(devices.map((d) => [d.address().port, []]));
    for (let i = 0; i < 60; i++) {
      for (const [k, device] of devices.entries()) {
        const payload = Buffer.alloc(sizes[(i + k) % sizes.length] as number, (i * 3 + k) & 255);
        if (payload.length >= 2) payload.writeUInt16BE(i, 0);
        sent.get(device.address().port)?.push(digest(payload));
        device.send(payload, PORT + 5, LISTEN_IP);
      }
    }
    await waitFor(() => [...answered.values()].reduce((n, a) => n + a.length, 0) === 180 && errors.length === 18, 'every answer and every refusal', 10_000);
    expect(answered).toEqual(sent);
    expect(new Set(errors)).toEqual(new Set(['EMSGSIZE']));
  });

  it('grouped upstream sockets each read their own answers; one refused or closed leaves the others reading', { timeout: 20_000 }, async () => {
    const backend = await nodeSocket(BACKEND_IP, PORT + 6);
    backend.on('message', (payload, from) => backend.send(Buffer.from(`ack ${payload.toString()}`), from.port, from.address));
    const answers: string[][] = [];
    const upstreams = Array.from({ length: 40 }, (_, i) => {
      const upstream = io.upstream(BACKEND_IP, PORT + 6, undefined, BUFFER_BYTES, { grouped: true });
      opened.push(upstream);
      answers[i] = [];
      upstream.onMessage((payload) => answers[i]?.push(payload.toString()));
      return upstream;
    });
    const refused = io.upstream(BACKEND_IP, PORT + 7, undefined, BUFFER_BYTES, { grouped: true });
    opened.push(refused);
    const refusals: string[] = [];
    refused.onError((error) => refusals.push(String(error.code)));
    const sendErrors: unknown[] = [];
    const round = (from: number, to: number, tag: string): void => {
      for (let n = 0; n < 20; n++) {
        for (let i = from; i < to; i++) (upstreams[i] as DatagramSocket).send(Buffer.from(`${tag} ${i} ${n}`), (error) => error !== null && sendErrors.push(error));
        refused.send(Buffer.from('to nobody'), (error) => error !== null && refusals.push(String(error.code)));
      }
    };
    const expected = (i: number, tag: string): string[] => Array.from({ length: 20 }, (_, n) => `ack ${tag} ${i} ${n}`);
    round(0, 40, 'first');
    await waitFor(() => answers.every((a) => a.length === 20), 'every socket its 20 answers');
    answers.forEach((a, i) => expect(a).toEqual(expected(i, 'first')));
    expect(refusals).toContain('ECONNREFUSED');
    // Half closed: they hear nothing more (not even a datagram sent to the port they had), the others everything.
    const closedPorts = upstreams.slice(0, 20).map((upstream) => upstream.localPort());
    for (const upstream of upstreams.slice(0, 20)) await upstream.close();
    round(20, 40, 'second');
    for (const port of closedPorts) backend.send('unasked', port, '127.0.0.1');
    await waitFor(() => answers.slice(20).every((a) => a.length === 40), 'the open sockets their second 20');
    answers.slice(20).forEach((a, k) => expect(a.slice(20)).toEqual(expected(k + 20, 'second')));
    answers.slice(0, 20).forEach((a) => expect(a.length).toBe(20));
    expect(sendErrors).toEqual([]);
    // Emptied and filled again: a socket made after the last one closed still reads.
    for (const upstream of [...upstreams.slice(20), refused]) await upstream.close();
    const again = io.upstream(BACKEND_IP, PORT + 6, undefined, BUFFER_BYTES, { grouped: true });
    opened.push(again);
    const last: string[] = [];
    again.onMessage((payload) => last.push(payload.toString()));
    again.send(Buffer.from('again'), () => undefined);
    await waitFor(() => last.length === 1, 'the answer on a socket of a group emptied before');
    expect(last).toEqual(['ack again']);
  });

  it.skipIf(process.platform !== 'linux')("counts the datagrams its kernel dropped on arrival as the kernel's table of sockets does (the C path asks the socket alone)", async () => {
    const listener = await io.listen(LISTEN_IP, PORT + 7, 64 * 1024);
    opened.push(listener);
    listener.onMessage(() => undefined);
    // Another process sends while this one is blocked waiting for it (spawnSync): nothing reads the listener, whose
    // buffer of 128 KiB (the kernel doubles what is asked) takes some of 300 datagrams of a kilobyte and drops the rest.
    const sender = `const s = require('node:dgram').createSocket('udp4'); let n = 0; const next = () => n++ < 300 ? s.send(Buffer.alloc(1000, n), ${PORT + 7}, '${LISTEN_IP}', next) : s.close(); next();`;
    expect(spawnSync(process.execPath, ['-e', sender], { timeout: 20_000 }).status).toBe(0);
    const inTable = kernelUdpSockets()?.find((socket) => socket.local === `${LISTEN_IP}:${PORT + 7}` && socket.remote === null)?.drops;
    expect(inTable).toBeGreaterThan(0);
    expect(listener.receiveDrops()).toBe(io.kind === 'native' ? inTable : undefined);
  });

  it('refuses a port that is taken, with the system error', async () => {
    const holder = await nodeSocket(LISTEN_IP, PORT + 3);
    expect(holder.address().port).toBe(PORT + 3);
    await expect(io.listen(LISTEN_IP, PORT + 3, BUFFER_BYTES)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('choosing the datagram path', () => {
  it('refuses a PARITY_UDP_IO that names no path, in one line, before binding anything', async () => {
    const run = await runParity(['relay', '--routes', '/nonexistent/routes.json'], { env: { PARITY_UDP_IO: 'fast' } });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual(['parity: PARITY_UDP_IO: "fast" is not one of auto, native, dgram']);
  });

  it('says which path the relay runs on, and --io dgram puts it on dgram', async () => {
    await withTempDir(async (dir) => {
      writeFileSync(join(dir, 'routes.json'), JSON.stringify({ routes: [{ port: PORT + 10, target: BACKEND_IP }] }));
      for (const [args, kind] of [[[], relayIoPaths()[0]?.kind], [['--io', 'dgram'], 'dgram']] as const) {
        const relay = spawnParity(['relay', '--routes', join(dir, 'routes.json'), '--bind-ip', LISTEN_IP, '--debug-port', '0', ...args]);
        try {
          expect(await relay.waitForOutput((out) => out.includes('relay_started'))).toBe(true);
          const started = JSON.parse(relay.stdout().split('\n').find((line) => line.includes('relay_started')) ?? '{}') as { io?: string };
          expect(started.io).toBe(kind);
        } finally {
          await relay.stop();
        }
      }
    });
  });
});
