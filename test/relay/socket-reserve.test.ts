import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { ipv4Number } from '../../src/core/udp-io/ipv4.js';
import { nativeIo } from '../../src/core/udp-io/native-io.ts';
import { loadUdpIo } from '../../src/core/udp-io/udp-io.ts';
import type { DatagramSocket } from '../../src/core/udp-io/datagram-socket.ts';
import { kernelUdpSockets } from '../../src/core/udp-socket-table.ts';
import { RESERVE_MOST, SocketReserve } from '../../src/relay/socket-reserve.ts';
import { startRelayRig, type RelayRig } from '../helpers/relay-rig.ts';
import { withTempDir } from '../helpers/temp-dir.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PORT = 23_950;
const RELAY_IP = '127.0.9.30';
const BACKEND_IP = '127.0.9.31';
const io = loadUdpIo();

let rig: RelayRig | undefined;
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await rig?.close();
  rig = undefined;
  for (const socket of sockets.splice(0)) await new Promise<void>((resolve) => socket.close(() => resolve()));
});

async function bound(ip: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(port, ip, () => resolve()));
  sockets.push(socket);
  return socket;
}

describe.skipIf(io === undefined)('upstream sockets opened ahead (the C datagram path)', () => {
  it('a socket opened ahead hands its owner nothing that reached it before it was connected, only the backend\'s answers after', async () => {
    const path = nativeIo(io!);
    const ahead = path.openAhead!(RELAY_IP, 1 << 20, { grouped: true })!;
    const backend = await bound(BACKEND_IP);
    const backendPort = backend.address().port;
    backend.on('message', (message, from) => backend.send(Buffer.from(`answer to ${message.toString()}`), from.port, from.address));
    // Sent and delivered within the system call, with no turn of the event loop between it and the connect: without
    // dropping what was queued, the group's next read would hand this datagram to the binding as the backend's.
    const intruder = io!.open(ipv4Number('127.0.9.32'), 0, 0, false);
    const forged = Buffer.from('forged answer');
    expect(io!.send(intruder, forged, 0, forged.length, ipv4Number(RELAY_IP), ahead.localPort())).toBe(forged.length);
    io!.closeFd(intruder);
    const socket: DatagramSocket = ahead.connect(BACKEND_IP, backendPort);
    const received: string[] = [];
    socket.onMessage((payload) => received.push(payload.toString()));
    try {
      await new Promise<void>((resolve, reject) => socket.send(Buffer.from('request 1'), (error) => (error ? reject(error) : resolve())));
      await waitFor(() => received.length > 0, 'the backend\'s answer');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received).toEqual(['answer to request 1']);
    } finally {
      await socket.close();
    }
  });

  it('the relay makes a new device\'s binding from a socket opened ahead, says how many it holds, and the device gets its backend\'s answer', async () => {
    await withTempDir(async (dir) => {
      const backend = await bound(BACKEND_IP, PORT);
      const requestsFrom: number[] = [];
      backend.on('message', (message, from) => {
        requestsFrom.push(from.port);
        backend.send(Buffer.from(`ack ${message.toString()}`), from.port, from.address);
      });
      rig = await startRelayRig(dir, { relayIp: RELAY_IP, ports: [PORT], backends: [], io: 'native', routes: { routes: [{ port: PORT, target: BACKEND_IP }] } });
      // Filled a few at a time, every 10 ms, up to an eighth of the budget (8192 where the file limit allows): full, it opens no more,
      // so the sockets listed next are the ones the devices' bindings can take.
      const { upstreamSocketBudget } = await rig.debug<{ upstreamSocketBudget: number }>('/debug/health');
      const full = Math.min(RESERVE_MOST, Math.floor(upstreamSocketBudget / 8));
      await waitFor(async () => (await rig!.debug<{ reservedUpstreamSockets: number }>('/debug/health')).reservedUpstreamSockets === full, 'the reserve to fill');
      const reservedPorts = new Set(
        (kernelUdpSockets() ?? []).filter((s) => s.local.startsWith(`${RELAY_IP}:`) && s.remote === null && s.local !== `${RELAY_IP}:${PORT}`).map((s) => Number(s.local.split(':')[1])),
      );
      expect(reservedPorts.size).toBe(full);
      const devices = await Promise.all(Array.from({ length: 20 }, (_, i) => bound(`127.0.9.${40 + i}`)));
      const answers = devices.map(() => [] as string[]);
      devices.forEach((device, i) => device.on('message', (message) => answers[i]?.push(message.toString())));
      for (const [i, device] of devices.entries()) device.send(Buffer.from(`report ${i}`), PORT, RELAY_IP);
      await waitFor(() => answers.every((a) => a.length === 1), 'every device\'s ACK');
      expect(answers).toEqual(devices.map((_, i) => [`ack report ${i}`]));
      // Every binding's socket was one the reserve held before the devices were first heard from.
      expect(requestsFrom).toHaveLength(20);
      for (const port of requestsFrom) expect(reservedPorts.has(port)).toBe(true);
      const health = await rig.debug<{ upstreamSockets: number }>('/debug/health');
      expect(health.upstreamSockets).toBe(20);
    });
  });

  it('a reserve filled for one source address or buffer size hands none out for another, and refills with the new one', async () => {
    const reserve = new SocketReserve(nativeIo(io!));
    try {
      while (reserve.size < 8) expect(reserve.refill(RELAY_IP, 1 << 20, 8)).toBeGreaterThan(0);
      // A reload changed the buffer size: nothing opened with the old one is handed out, and all of it is closed.
      expect(reserve.take(RELAY_IP, 2 << 20)).toBeUndefined();
      expect(reserve.size).toBe(0);
      expect(reserve.refill(RELAY_IP, 2 << 20, 8)).toBe(8);
      // The same for the source address; the sockets opened ahead are bound to the address in force.
      expect(reserve.take('127.0.9.33', 2 << 20)).toBeUndefined();
      expect(reserve.size).toBe(0);
      reserve.refill('127.0.9.33', 2 << 20, 8);
      const taken = reserve.take('127.0.9.33', 2 << 20);
      expect(taken).toBeDefined();
      const port = taken!.localPort();
      expect((kernelUdpSockets() ?? []).some((s) => s.local === `127.0.9.33:${port}`)).toBe(true);
      await taken!.close();
      // Asked for fewer than it holds (bindings grew towards the budget), it closes the rest.
      reserve.refill('127.0.9.33', 2 << 20, 3);
      expect(reserve.size).toBe(3);
    } finally {
      reserve.clear();
    }
  });
});
