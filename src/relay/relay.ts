import { NetworkError } from '../core/errors.ts';
import { dropsAt, kernelUdpSockets } from '../core/udp-socket-table.ts';
import { askedDrops, type DatagramPath, type DatagramSocket, type Sender } from '../core/udp-io/datagram-socket.ts';
import type { RelayConfig, ResolvedRoute } from './relay-config.ts';
import { logConfigApplied } from './config-log.ts';
import type { RelayLog } from './relay-log.ts';
import { RelayMetrics, type BackendSeries } from './relay-metrics.ts';
import { UpstreamPool, type AckReturn, type DeviceEndpoint } from './upstream-pool.ts';

/** Upper bound of upstream sockets (one binding per device and ACK backend); the open-file limit may lower it. */
export const DEFAULT_MAX_UPSTREAM_SOCKETS = 8192;
const BUDGET_LOG_INTERVAL_MS = 10_000;

/** A configuration as applied: the config, and the metric series of each route's backends, swapped as one. */
interface DataPlane {
  config: RelayConfig;
  series: ReadonlyMap<number, readonly BackendSeries[]>;
}

export interface ConfigVersion {
  version: number;
  label: string | undefined;
  source: string;
  loadedAt: string;
  routes: number;
}

export interface ConfigRejection {
  at: string;
  source: string;
  error: string;
}

/**
 * The reference mirroring relay (udp-dual-mirroring.md): every packet of a route goes to its ACK backend (whose reply
 * is relayed to the device) and, fire-and-forget, to the others. Configuration is an immutable snapshot replaced
 * atomically: a packet is handled wholly under the snapshot current when it arrived.
 */
export class Relay {
  readonly metrics = new RelayMetrics();
  private readonly upstream: UpstreamPool;
  /** Kernel drops of listeners closed since the relay started (listenerDrops). */
  private closedListenerDrops = 0;
  private readonly listeners = new Map<number, DatagramSocket>();
  /** Removed ports still open for one response timeout, so ACKs in flight reach their devices; reused if re-added. */
  private readonly draining = new Map<number, { socket: DatagramSocket; timer: NodeJS.Timeout }>();
  private plane: DataPlane;
  private versionNumber = 0;
  current: ConfigVersion;
  lastRejection: ConfigRejection | null = null;

  private constructor(
    config: RelayConfig,
    private readonly log: RelayLog,
    maxSockets: number,
    /** How its sockets are made: Node's dgram, or the batched path in C (core/udp-io/udp-io.c). */
    readonly io: DatagramPath,
  ) {
    this.plane = { config, series: new Map() };
    // A relay bound to one address sends from it too, so its upstream traffic is recognisably its own.
    const sourceIp = config.bindIp === '0.0.0.0' || config.bindIp === '::' ? undefined : config.bindIp;
    this.upstream = new UpstreamPool(this.metrics, io, { timeoutMs: config.responseTimeoutMs, socketBufferBytes: config.socketBufferBytes, maxSockets, ...(sourceIp !== undefined && { sourceIp }) });
    // Once per interval, not per refused packet: the log stays readable exactly when the relay is under pressure.
    let lastBudgetLogMs = 0;
    this.upstream.onBudgetReached = (open, max) => {
      if (Date.now() - lastBudgetLogMs < BUDGET_LOG_INTERVAL_MS) return;
      lastBudgetLogMs = Date.now();
      this.log('warn', 'upstream_socket_budget_reached', { open, budget: max, refused_total: this.metrics.refusedByReason.get('socket_budget') ?? 0 });
    };
    this.current = { version: 0, label: undefined, source: 'none', loadedAt: new Date().toISOString(), routes: 0 };
  }

  static async start(config: RelayConfig, options: { log: RelayLog; source: string; maxSockets?: number; io: DatagramPath }): Promise<Relay> {
    const relay = new Relay(config, options.log, options.maxSockets ?? DEFAULT_MAX_UPSTREAM_SOCKETS, options.io);
    try {
      await relay.apply(config, options.source);
    } catch (error) {
      await relay.stop();
      throw error;
    }
    return relay;
  }

  get config(): RelayConfig {
    return this.plane.config;
  }

  get ports(): number[] {
    return [...this.listeners.keys()];
  }

  get openUpstreamSockets(): number {
    return this.upstream.openSockets;
  }

  /** Sockets opened ahead for new devices' bindings (none on Node's dgram). */
  get reservedUpstreamSockets(): number {
    return this.upstream.reservedSockets;
  }

  get upstreamSocketBudget(): number {
    return this.upstream.socketBudget;
  }

  get waitingForAcks(): number {
    return this.upstream.waitingCount;
  }

  /** Datagrams waiting to leave for a backend (the fan-out spec's queue size). */
  sendQueueSize(ip: string): number {
    return this.upstream.sendQueueSize(ip);
  }

  /**
   * Devices' datagrams the kernel dropped on arrival at the relay's listening sockets, their receive buffers full,
   * since the relay started (those of listeners closed since included); null where the kernel's table cannot be read
   * (not Linux). What no backend got because the relay could not take it in: the relay's loss, not theirs.
   */
  listenerDrops(): number | null {
    const open = [...this.listeners, ...[...this.draining].map(([port, { socket }]) => [port, socket] as const)];
    const drops = this.dropsOf(open);
    return drops === null ? null : this.closedListenerDrops + drops;
  }

  /**
   * The kernel's drop counts of these listeners: each socket asked alone where it can be (the C path). Node's dgram
   * cannot be, and there the kernel's table of every UDP socket is read, which takes a millisecond per few hundred
   * sockets of the machine's (the relay's own bindings included) and holds the packet path up meanwhile.
   */
  private dropsOf(listeners: readonly (readonly [number, DatagramSocket])[]): number | null {
    return askedDrops(listeners.map(([, socket]) => socket)) ?? this.listenerDropsAt(listeners.map(([port]) => port));
  }

  /** The drop counts in the kernel's table of the listeners on `ports` (unconnected sockets bound to the relay's address). */
  private listenerDropsAt(ports: readonly number[]): number | null {
    const table = kernelUdpSockets();
    if (table === undefined) return null;
    return dropsAt(table.filter((socket) => socket.remote === null), new Set(ports.map((port) => `${this.plane.config.bindIp}:${port}`)));
  }

  /**
   * Applies a validated configuration: binds listeners for new ports first (a port that cannot be bound rejects the
   * whole version), then swaps the snapshot, then drains removed ports: they stay open for one response timeout so
   * ACKs of packets already in flight still reach their devices.
   */
  async apply(config: RelayConfig, source: string): Promise<void> {
    const added = [...config.routes.keys()].filter((port) => !this.listeners.has(port));
    const removed = [...this.listeners.keys()].filter((port) => !config.routes.has(port));
    const bound: [number, DatagramSocket][] = [];
    const reused: [number, DatagramSocket][] = [];
    try {
      for (const port of added) {
        // A port removed and added back within its drain is still bound: take the draining socket back.
        const draining = this.draining.get(port);
        if (draining !== undefined) reused.push([port, draining.socket]);
        else bound.push([port, await this.listen(config.bindIp, port, config.socketBufferBytes)]);
      }
    } catch (error) {
      for (const [, socket] of bound) void socket.close();
      throw error;
    }
    for (const [port] of reused) {
      clearTimeout((this.draining.get(port) as { timer: NodeJS.Timeout }).timer);
      this.draining.delete(port);
    }
    bound.push(...reused);
    this.metrics.prepare(config);
    this.plane = { config, series: seriesOf(config, this.metrics) };
    this.upstream.timeoutMs = config.responseTimeoutMs;
    this.upstream.socketBufferBytes = config.socketBufferBytes;
    for (const [port, socket] of bound) this.listeners.set(port, socket);
    for (const port of removed) this.drain(port, config.responseTimeoutMs);
    this.versionNumber++;
    this.current = { version: this.versionNumber, label: config.label, source, loadedAt: new Date().toISOString(), routes: config.routes.size };
    logConfigApplied(this.log, this.versionNumber, config, { source, added, removed });
  }

  /** Records a configuration version that failed validation; the last good one stays in force. */
  reject(source: string, error: string): void {
    this.lastRejection = { at: new Date().toISOString(), source, error };
    this.log('error', 'mirror_config_invalid', { source, error, kept_version: this.current.version });
  }

  async stop(): Promise<void> {
    const sockets = [...this.listeners.values()];
    for (const { socket, timer } of this.draining.values()) {
      clearTimeout(timer);
      sockets.push(socket);
    }
    this.draining.clear();
    this.upstream.close();
    await Promise.all(sockets.map((socket) => socket.close()));
    this.listeners.clear();
  }

  private handle(port: number, returnPath: AckReturn, payload: Buffer, device: Sender): void {
    const { config, series } = this.plane;
    this.metrics.countReceived(port);
    const route = config.routes.get(port);
    const routeSeries = series.get(port);
    if (route === undefined || routeSeries === undefined) {
      this.metrics.countDropped('route_removed');
      return;
    }
    if (config.killSwitch) {
      for (const s of routeSeries) s.dropped++;
      this.metrics.countDropped('kill_switch');
      return;
    }
    // A datagram the route's protocol says nobody answers must not hold a device binding open for the whole timeout:
    // under a flood of junk that is what starves real devices of sockets.
    const decoded = route.protocol?.decode(payload);
    const expectsReply = decoded === undefined || decoded.wantsAck;
    if (!expectsReply) this.metrics.countNoReply(port);
    // The ACK backend first: fire-and-forget sends are queued after it and never delay it. Two plain loops, not a
    // callback per packet: this is the relay's hottest path.
    const backends = route.backends;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < backends.length; i++) {
        const backend = backends[i] as ResolvedRoute['backends'][number];
        if (backend.ack !== (pass === 0)) continue;
        const s = routeSeries[i] as BackendSeries;
        if (!backend.enabled) {
          s.dropped++;
          this.metrics.countDropped('target_disabled');
        } else if (!backend.ack) {
          this.upstream.sendAndForget(backend.ip, port, payload, s);
        } else if (!expectsReply) {
          this.upstream.sendUnanswered(backend.ip, port, payload, s, device.address, device.port);
        } else {
          const endpoint: DeviceEndpoint = { ip: device.address, port: device.port, route: port };
          this.upstream.sendAwaitingAck(backend.ip, port, payload, s, endpoint, returnPath, route.protocol, decoded?.matchKey);
        }
      }
    }
  }

  private async listen(ip: string, port: number, bufferBytes: number): Promise<DatagramSocket> {
    let socket: DatagramSocket;
    try {
      // Its ACKs back to devices leave in runs, one per turn of the bindings' reads (batchedSends).
      socket = await this.io.listen(ip, port, bufferBytes, { batchedSends: true });
    } catch (cause) {
      throw new NetworkError(`relay: cannot listen on ${ip}:${port}: ${(cause as Error).message}`, { route: port }, { cause });
    }
    // The way back to devices for every ACK of this listener: made once, not once per packet.
    const returnPath: AckReturn = {
      deliver: (ack, device) => {
        socket.sendTo(ack, device.port, device.ip);
        this.metrics.countDeviceAck(port);
      },
    };
    socket.onMessage((payload, remote) => this.handle(port, returnPath, payload, remote));
    socket.onError((error) => this.log('error', 'listener_error', { port, error: error.message }));
    return socket;
  }

  private drain(port: number, timeoutMs: number): void {
    const socket = this.listeners.get(port);
    this.listeners.delete(port);
    if (socket === undefined) return;
    const timer = setTimeout(() => {
      // Its drop count goes with it: kept first.
      this.closedListenerDrops += this.dropsOf([[port, socket]]) ?? 0;
      this.draining.delete(port);
      void socket.close();
    }, timeoutMs + 100);
    this.draining.set(port, { socket, timer });
    // Packets to a draining port are counted as dropped by handle(): the new snapshot has no route for it.
  }

}

function seriesOf(config: RelayConfig, metrics: RelayMetrics): Map<number, BackendSeries[]> {
  const series = new Map<number, BackendSeries[]>();
  for (const route of config.routes.values()) {
    series.set(route.port, route.backends.map((b) => metrics.seriesFor(route.port, b.type, b.ip, route.customer, route.device)));
  }
  return series;
}
