import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { relayIoPaths } from '../helpers/relay-io-paths.ts';
import { RelayMetrics } from '../../src/relay/relay-metrics.ts';
import { DEFAULT_SOCKET_BUFFER_BYTES } from '../../src/relay/relay-config.ts';
import { UpstreamPool, type DeviceEndpoint, type UpstreamOptions } from '../../src/relay/upstream-pool.ts';
import type { BackendSeries } from '../../src/relay/relay-metrics.ts';
import type { DatagramPath } from '../../src/core/udp-io/datagram-socket.ts';
import { waitFor } from '../helpers/wait-for.ts';

const BACKEND_IP = '127.0.8.41';
const ROUTE = 21640;

/** A backend that answers every datagram and remembers which relay port each device's datagrams came from. */
async function startBackend(): Promise<{ socket: dgram.Socket; portsOf: Map<string, number[]> }> {
  const socket = dgram.createSocket('udp4');
  const portsOf = new Map<string, number[]>();
  socket.on('message', (payload, from) => {
    const device = payload.toString().split('#')[0] ?? '';
    portsOf.set(device, [...(portsOf.get(device) ?? []), from.port]);
    socket.send(Buffer.from(`ack ${payload.toString()}`), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(ROUTE, BACKEND_IP, () => resolve()));
  return { socket, portsOf };
}

/** What the test in progress opened, closed after it. */
let poolInUse: UpstreamPool | undefined;
let backend: dgram.Socket | undefined;

afterEach(async () => {
  poolInUse?.close();
  poolInUse = undefined;
  await new Promise<void>((resolve) => (backend === undefined ? resolve() : backend.close(() => resolve())));
  backend = undefined;
});

/** The answering backend and a pool on `io` towards it with `options`, both closed after the test. */
async function startPool(io: DatagramPath, options: Omit<UpstreamOptions, 'socketBufferBytes'>): Promise<{ pool: UpstreamPool; metrics: RelayMetrics; series: BackendSeries; portsOf: Map<string, number[]> }> {
  const started = await startBackend();
  backend = started.socket;
  const metrics = new RelayMetrics();
  const series = metrics.seriesFor(ROUTE, 'primary', BACKEND_IP, 'test', 'generic');
  const pool = new UpstreamPool(metrics, io, { socketBufferBytes: DEFAULT_SOCKET_BUFFER_BYTES, ...options });
  poolInUse = pool;
  return { pool, metrics, series, portsOf: started.portsOf };
}

describe.each(relayIoPaths())('upstream bindings at the socket budget (real sockets, $kind)', (io) => {
  it('gives up the least recently used idle binding for a new device, to the second', { timeout: 15_000 }, async () => {
    const { pool, metrics, series, portsOf } = await startPool(io, { timeoutMs: 2000, maxSockets: 2, maxSocketsPerSource: 2, maxSocketsPerRoute: 2 });
    const acks = new Map<string, number>();
    let sent = 0;
    const send = async (name: string, device: DeviceEndpoint): Promise<void> => {
      sent++;
      pool.sendAwaitingAck(BACKEND_IP, ROUTE, Buffer.from(`${name}#${sent}`), series, device, { deliver: () => acks.set(name, (acks.get(name) ?? 0) + 1) });
      const want = [...acks.values()].reduce((a, b) => a + b, 0) + 1;
      await waitFor(() => [...acks.values()].reduce((a, b) => a + b, 0) === want, `the ACK to ${name}'s datagram ${sent}`);
    };
    const a: DeviceEndpoint = { ip: '127.0.12.1', port: 40001, route: ROUTE };
    const b: DeviceEndpoint = { ip: '127.0.12.2', port: 40002, route: ROUTE };
    const c: DeviceEndpoint = { ip: '127.0.12.3', port: 40003, route: ROUTE };
    await send('a', a);
    await send('b', b);
    // More than a second later, a is used again: it is now the most recently used, b the least.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await send('a', a);
    // The budget is full: a new device takes b's binding, not a's.
    await send('c', c);
    expect(metrics.evictedBindings).toBe(1);
    await send('a', a);
    const portsOfA = portsOf.get('a') ?? [];
    expect(portsOfA).toHaveLength(3);
    expect(new Set(portsOfA).size).toBe(1);
    // b comes back on a binding of its own, made anew (another relay port), in place of the least recently used one.
    await send('b', b);
    const portsOfB = portsOf.get('b') ?? [];
    expect(portsOfB).toHaveLength(2);
    expect(portsOfB[1]).not.toBe(portsOfB[0]);
    expect(metrics.evictedBindings).toBe(2);
    expect(pool.openSockets).toBe(2);
  });
});

describe.each(relayIoPaths())('idle bindings (real sockets, $kind)', (io) => {
  it('closes every binding idle past the limit, a few at a time, never all of a crowd in one turn of the event loop', { timeout: 20_000 }, async () => {
    const { pool, series } = await startPool(io, { timeoutMs: 100, idleMs: 300, maxSockets: 1000 });
    let acked = 0;
    const devices = 150;
    for (let i = 0; i < devices; i++) {
      pool.sendAwaitingAck(BACKEND_IP, ROUTE, Buffer.from(`d${i}#1`), series, { ip: `127.0.13.${1 + (i % 200)}`, port: 41000 + i, route: ROUTE }, { deliver: () => acked++ });
    }
    await waitFor(() => acked === devices, 'every device\'s ACK');
    expect(pool.openSockets).toBe(devices);
    // Sampled at every turn of the event loop: a turn runs each of the pool's timers at most once (the 1 s idle
    // sweep and the 10 ms one may both be due), so at most two sweeps' worth closes between two samples.
    let previous = pool.openSockets;
    let mostAtOnce = 0;
    const deadline = Date.now() + 10_000;
    while (pool.openSockets > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setImmediate(resolve));
      mostAtOnce = Math.max(mostAtOnce, previous - pool.openSockets);
      previous = pool.openSockets;
    }
    expect(pool.openSockets).toBe(0);
    expect(mostAtOnce).toBeGreaterThan(0);
    expect(mostAtOnce).toBeLessThanOrEqual(64);
  });
});
