import { NetworkError } from '../core/errors.ts';
import { datagramPath, ioChoiceFromEnv } from '../core/udp-io/datagram-path.ts';
import { arrivalNs, askedDrops, type DatagramPath, type DatagramSocket, type Sender } from '../core/udp-io/datagram-socket.ts';
import { socketErrorKind } from '../core/socket-errors.ts';
import type { Observer } from './observer.ts';
import { kernelUdpSockets, type KernelUdpSocket } from '../core/udp-socket-table.ts';

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
  socket: DatagramSocket;
  source: Endpoint;
  lastUsedMs: number;
  /** When this source's last packet left: a reply's latency is measured to it (a lower bound with several in flight). */
  lastForwardMs: number;
}

/** What a tap counted: what it forwarded and relayed back, and what went wrong, by kind. */
export interface TapCounters {
  forwarded: number;
  replies: number;
  /** Datagrams on an upstream socket from anyone but the target: dropped, never relayed to a source. */
  strayReplies: number;
  /** Send and receive errors towards the target, by kind (refused, unreachable, no_buffer, ...). */
  errors: Record<string, number>;
  /**
   * Datagrams the kernel dropped on arrival at the tap's sockets, their receive buffers full: packets for the target
   * and its answers that the tap lost, not the target (null: cannot be seen, not Linux). Current once `countDrops` ran.
   */
  receiveDrops: number | null;
  /**
   * Of those, the ones at its upstream sockets: the target's answers (the rest, at its listener, were packets for the
   * target). What each could have made look worse differs: the target's drop rate, or its answers.
   */
  replyDrops: number | null;
}

/**
 * A transparent UDP proxy for one port: sources send to `listen`; the tap forwards each packet to `target` from a
 * connected socket of that source's own (so the target sees as many sources as there are, and the kernel reports a
 * target that refuses), and relays back only replies from the target, to the source they belong to. Every packet is
 * handed to `onPacket` after it is forwarded, so recording never delays traffic.
 */
export class UdpTap implements Observer {
  private listener: DatagramSocket | undefined;
  private readonly upstreams = new Map<string, Upstream>();
  private idleTimer: NodeJS.Timeout | undefined;
  /**
   * The tap's own address as packets carry it, and each source's (Upstream.source): one frozen object each, shared by
   * every packet, instead of a copy per packet (recorders only read them).
   */
  private listenEndpoint: Endpoint = Object.freeze({ ip: '', port: 0 });
  readonly counters: TapCounters = { forwarded: 0, replies: 0, strayReplies: 0, errors: {}, receiveDrops: null, replyDrops: null };
  /** Drops of upstream sockets closed while idle, and of the listener before the tap used it. */
  private closedDrops = 0;
  private listenerDropsAtStart = 0;
  /** Wall time of the last forward, and the slowest reply seen: a drain waits a few times the latter after the former. */
  lastForwardMs = 0;
  slowestReplyMs = 0;

  constructor(
    readonly listen: Endpoint,
    readonly target: Endpoint,
    private readonly onPacket: (packet: TappedPacket) => void,
    /** How its sockets are made: the C datagram path where it is built, else Node's dgram (as the relay's). */
    private readonly path: DatagramPath = datagramPath(ioChoiceFromEnv()),
  ) {}

  get name(): string {
    return `tap:${this.listen.ip}:${this.listen.port}`;
  }

  async start(): Promise<void> {
    let listener: DatagramSocket;
    try {
      // Replies back to sources leave in runs, one per turn of the upstream sockets' reads (batchedSends).
      listener = await this.path.listen(this.listen.ip, this.listen.port, UDP_BUFFER_BYTES, { arrivalTimes: true, batchedSends: true });
    } catch (cause) {
      throw new NetworkError(`tap: cannot listen on ${this.listen.ip}:${this.listen.port}: ${(cause as Error).message}`, { route: this.listen.port }, { cause });
    }
    listener.onError((error) => this.countError(error));
    listener.onMessage((payload, remote) => this.uplink(payload, remote));
    this.listener = listener;
    this.listen.port = listener.localPort();
    this.listenEndpoint = Object.freeze({ ip: this.listen.ip, port: this.listen.port });
    this.listenerDropsAtStart = this.socketDrops([listener]) ?? 0;
    this.idleTimer = setInterval(() => this.closeIdle(), IDLE_CLOSE_MS / 4);
    this.idleTimer.unref();
  }

  /**
   * Reads the kernel's drop counts of the tap's sockets into `counters.receiveDrops`: before the counters are taken,
   * while the sockets are open (their counts go with them).
   */
  countDrops(): void {
    if (this.listener === undefined) return;
    // Where the sockets cannot be asked alone, the kernel's table is read once for both counts.
    let table: readonly KernelUdpSocket[] | undefined;
    const readTable = (): readonly KernelUdpSocket[] | undefined => (table ??= kernelUdpSockets());
    const upstream = this.socketDrops([...this.upstreams.values()].map((u) => u.socket), readTable);
    const listener = this.socketDrops([this.listener], readTable);
    if (upstream === undefined || listener === undefined) return;
    const replies = this.closedDrops + upstream;
    this.counters.replyDrops = replies;
    this.counters.receiveDrops = replies + listener - this.listenerDropsAtStart;
  }

  /**
   * The drops of `sockets` (the listener, and upstream sockets connected to the target): each socket asked alone
   * where it can be (the C path), else read from the kernel's table of every UDP socket, which takes a millisecond
   * per few hundred sockets of the machine's and holds the tap's forwarding up meanwhile; undefined where neither can
   * be read (not Linux).
   */
  private socketDrops(sockets: readonly DatagramSocket[], readTable: () => readonly KernelUdpSocket[] | undefined = kernelUdpSockets): number | undefined {
    return askedDrops(sockets) ?? this.socketDropsIn(readTable(), sockets);
  }

  private socketDropsIn(table: readonly KernelUdpSocket[] | undefined, sockets: readonly DatagramSocket[]): number | undefined {
    if (table === undefined) return undefined;
    const listenerLocal = `${this.listen.ip}:${this.listen.port}`;
    const targetRemote = `${this.target.ip}:${this.target.port}`;
    const ports = new Set(sockets.filter((socket) => socket !== this.listener).map((socket) => socket.localPort()));
    const listening = this.listener !== undefined && sockets.includes(this.listener);
    let drops = 0;
    for (const entry of table) {
      if ((listening && entry.local === listenerLocal && entry.remote === null) || (entry.remote === targetRemote && ports.has(Number(entry.local.slice(entry.local.lastIndexOf(':') + 1))))) drops += entry.drops;
    }
    return drops;
  }

  async stop(): Promise<void> {
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    const sockets = [...this.upstreams.values()].map((u) => u.socket);
    if (this.listener !== undefined) sockets.push(this.listener);
    await Promise.all(sockets.map((socket) => socket.close()));
    this.upstreams.clear();
  }

  private uplink(payload: Buffer, remote: Sender): void {
    const monoNs = arrivalNs(remote);
    const upstream = this.upstreamFor(remote.address, remote.port);
    const nowMs = Date.now();
    this.lastForwardMs = nowMs;
    if (upstream !== undefined) {
      upstream.lastUsedMs = nowMs;
      upstream.lastForwardMs = nowMs;
      upstream.socket.send(payload, (error) => {
        if (error) this.countError(error);
      });
      this.counters.forwarded++;
    }
    // Recorded even when it could not be forwarded (counted in errors): it did reach the tap.
    this.onPacket({ direction: 'uplink', monoNs, wallNs: wallNs(monoNs), src: upstream?.source ?? Object.freeze({ ip: remote.address, port: remote.port }), dst: this.listenEndpoint, payload });
  }

  /** The source's own socket towards the target; undefined (the packet counted as an error) when none can be made. */
  private upstreamFor(ip: string, port: number): Upstream | undefined {
    const key = `${ip}:${port}`;
    let upstream = this.upstreams.get(key);
    if (upstream !== undefined) return upstream;
    const source: Endpoint = Object.freeze({ ip, port });
    let socket: DatagramSocket;
    try {
      // A connected socket: the kernel reports ICMP errors from the target (a refusing backend is counted, not hidden).
      // One per source, each with a reply now and then: watched as one (grouped).
      socket = this.path.upstream(this.target.ip, this.target.port, undefined, UDP_BUFFER_BYTES, { arrivalTimes: true, grouped: true });
    } catch (error) {
      this.countError(error as Error);
      return undefined;
    }
    upstream = { socket, source, lastUsedMs: Date.now(), lastForwardMs: 0 };
    const owner = upstream;
    socket.onError((error) => this.countError(error));
    socket.onMessage((payload, remote) => this.reply(owner, payload, remote));
    this.upstreams.set(key, upstream);
    return upstream;
  }

  private reply(upstream: Upstream, payload: Buffer, remote: Sender): void {
    // A connected socket only takes datagrams from the target; the check stays as the rule, not as a kernel detail.
    if (remote.address !== this.target.ip || remote.port !== this.target.port) {
      this.counters.strayReplies++;
      return;
    }
    const monoNs = arrivalNs(remote);
    const nowMs = Date.now();
    upstream.lastUsedMs = nowMs;
    this.slowestReplyMs = Math.max(this.slowestReplyMs, nowMs - upstream.lastForwardMs);
    this.listener?.sendTo(payload, upstream.source.port, upstream.source.ip);
    this.counters.replies++;
    this.onPacket({ direction: 'reply', monoNs, wallNs: wallNs(monoNs), src: this.listenEndpoint, dst: upstream.source, payload });
  }

  private countError(error: Error): void {
    const kind = socketErrorKind((error as NodeJS.ErrnoException).code);
    this.counters.errors[kind] = (this.counters.errors[kind] ?? 0) + 1;
  }

  private closeIdle(): void {
    const before = Date.now() - IDLE_CLOSE_MS;
    const idle = [...this.upstreams].filter(([, upstream]) => upstream.lastUsedMs < before);
    if (idle.length === 0) return;
    // Their drop counts go with them: kept first.
    this.closedDrops += this.socketDrops(idle.map(([, upstream]) => upstream.socket)) ?? 0;
    for (const [key, upstream] of idle) {
      this.upstreams.delete(key);
      void upstream.socket.close();
    }
  }
}

// Wall-clock ns from the monotonic clock: one offset taken at start, so wall times keep monotonic precision.
const WALL_OFFSET_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

function wallNs(monoNs: bigint): bigint {
  return monoNs + WALL_OFFSET_NS;
}
