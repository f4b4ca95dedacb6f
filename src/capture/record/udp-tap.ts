import dgram from 'node:dgram';
import { NetworkError } from '../../core/errors.ts';

const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
const IDLE_CLOSE_MS = 60_000;

export interface Endpoint {
  ip: string;
  port: number;
}

/** A packet through a tap: `uplink` from a source to the target, `reply` from the target back to a source. */
export interface TappedPacket {
  direction: 'uplink' | 'reply';
  /** CLOCK_MONOTONIC ns (observations) and wall-clock ns (captures), taken when the tap read the packet. */
  monoNs: bigint;
  wallNs: bigint;
  src: Endpoint;
  dst: Endpoint;
  payload: Buffer;
}

interface Upstream {
  socket: dgram.Socket;
  source: Endpoint;
  lastUsedMs: number;
}

/**
 * A transparent UDP proxy for one port: sources send to `listen`; the tap forwards each packet to `target` from a
 * socket of that source's own (so the target sees as many sources as there are), and relays every reply back to the
 * source it belongs to, from the listen address. Every packet is handed to `onPacket` after it is forwarded, so
 * recording never delays traffic.
 */
export class UdpTap {
  private listener: dgram.Socket | undefined;
  private readonly upstreams = new Map<string, Upstream>();
  private idleTimer: NodeJS.Timeout | undefined;
  forwarded = 0;
  replies = 0;

  constructor(
    readonly listen: Endpoint,
    readonly target: Endpoint,
    private readonly onPacket: (packet: TappedPacket) => void,
  ) {}

  async start(): Promise<void> {
    const listener = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER_BYTES, sendBufferSize: UDP_BUFFER_BYTES });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', (cause) => reject(new NetworkError(`tap: cannot listen on ${this.listen.ip}:${this.listen.port}: ${cause.message}`, { route: this.listen.port }, { cause })));
      listener.bind(this.listen.port, this.listen.ip, () => resolve());
    });
    listener.removeAllListeners('error');
    listener.on('error', () => undefined);
    listener.on('message', (payload, remote) => this.uplink(payload, remote));
    this.listener = listener;
    this.listen.port = listener.address().port;
    this.idleTimer = setInterval(() => this.closeIdle(), IDLE_CLOSE_MS / 4);
    this.idleTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    const sockets = [...this.upstreams.values()].map((u) => u.socket);
    if (this.listener !== undefined) sockets.push(this.listener);
    await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
    this.upstreams.clear();
  }

  private uplink(payload: Buffer, remote: dgram.RemoteInfo): void {
    const monoNs = process.hrtime.bigint();
    const source = { ip: remote.address, port: remote.port };
    const upstream = this.upstreamFor(source);
    upstream.lastUsedMs = Date.now();
    upstream.socket.send(payload, this.target.port, this.target.ip);
    this.forwarded++;
    this.onPacket({ direction: 'uplink', monoNs, wallNs: wallNs(monoNs), src: source, dst: { ...this.listen }, payload });
  }

  private upstreamFor(source: Endpoint): Upstream {
    const key = `${source.ip}:${source.port}`;
    let upstream = this.upstreams.get(key);
    if (upstream !== undefined) return upstream;
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_BUFFER_BYTES, sendBufferSize: UDP_BUFFER_BYTES });
    upstream = { socket, source, lastUsedMs: Date.now() };
    const owner = upstream;
    socket.on('error', () => undefined);
    socket.on('message', (payload) => this.reply(owner, payload));
    this.upstreams.set(key, upstream);
    return upstream;
  }

  private reply(upstream: Upstream, payload: Buffer): void {
    const monoNs = process.hrtime.bigint();
    upstream.lastUsedMs = Date.now();
    this.listener?.send(payload, upstream.source.port, upstream.source.ip);
    this.replies++;
    this.onPacket({ direction: 'reply', monoNs, wallNs: wallNs(monoNs), src: { ...this.listen }, dst: { ...upstream.source }, payload });
  }

  private closeIdle(): void {
    const before = Date.now() - IDLE_CLOSE_MS;
    for (const [key, upstream] of this.upstreams) {
      if (upstream.lastUsedMs >= before) continue;
      this.upstreams.delete(key);
      upstream.socket.close();
    }
  }
}

// Wall-clock ns from the monotonic clock: one offset taken at start, so wall times keep monotonic precision.
const WALL_OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

function wallNs(monoNs: bigint): bigint {
  return monoNs + WALL_OFFSET_NS;
}
