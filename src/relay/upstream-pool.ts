import { performance } from 'node:perf_hooks';
import type { BackendSeries, RelayMetrics } from './relay-metrics.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { DatagramPath } from '../core/udp-io/datagram-socket.ts';
import { BindingShares } from './binding-shares.ts';
import { BindingTable } from './binding-table.ts';
import { FireAndForget, sendForgotten } from './fire-and-forget.ts';
import { UpstreamSockets } from './upstream-sockets.ts';
import { WaitingRequests } from './waiting-requests.ts';
import { elapsedMs, type AckReturn, type Binding, type DeviceEndpoint, type Failure, type PendingRequest, type UpstreamOptions } from './upstream-socket.ts';

export type { AckReturn, DeviceEndpoint, UpstreamOptions } from './upstream-socket.ts';

const SWEEP_INTERVAL_MS = 10;
const IDLE_SWEEP_INTERVAL_MS = 1000;
/**
 * Idle bindings closed at one sweep at most, the rest at the next 10 ms sweeps: closing one is a socket closed and
 * taken out of the bindings' watch, about 10 µs (close 6 µs and the watch's removal 4 µs, measured alone), so a
 * thousand devices gone quiet together held the packet path for 10 ms or more when they were all closed at once.
 */
const IDLE_CLOSES_PER_SWEEP = 32;
/** How many of the least recently used bindings are looked at for one to give up when the budget is reached. */
const EVICTION_SCAN = 64;
/**
 * A binding in use moves to the most recently used end of the table at most this often: moving it on every packet (a
 * delete and a set in a map of thousands, 0.3-0.5 µs a packet measured alone) bought an order to the packet where
 * eviction and idle closing need it to the second.
 */
const REORDER_AFTER_MS = 1000;

/**
 * The relay's upstream sockets. The ACK flow goes through one binding per (device, backend): the spec's per-packet
 * dial keeps a reply tied to its request; a binding keeps it tied to its device, which is what matters, without a
 * socket per packet and without ever handing a closed socket's port (and a late ACK to it) to another device.
 * Bindings are bounded by a budget shared by all routes; idle ones are closed, and when the budget is reached the least
 * recently used idle binding is given up for a new device. Fire-and-forget sends share one socket per backend.
 */
export class UpstreamPool {
  private readonly bindings = new BindingTable();
  private readonly fireAndForget: FireAndForget;
  private readonly waiting = new WaitingRequests();
  private readonly sockets: UpstreamSockets;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly shares: BindingShares;
  private readonly idleMs: number | undefined;
  /** The last idle sweep stopped at its limit: the next sweeps go on with it. */
  private idleLeft = false;
  /** Budget-reached notices, at most one per interval in the log. */
  onBudgetReached: ((open: number, max: number) => void) | undefined;
  /** The ACK timeout; a reload may change it for requests sent from then on. */
  timeoutMs: number;
  /** Source address of upstream sockets; undefined lets the kernel choose (bind_ip 0.0.0.0). */
  sourceIp: string | undefined;
  /** The buffer size of sockets opened from now on; a reload may change it. */
  socketBufferBytes: number;

  constructor(
    private readonly metrics: RelayMetrics,
    io: DatagramPath,
    options: UpstreamOptions,
  ) {
    this.timeoutMs = options.timeoutMs;
    this.socketBufferBytes = options.socketBufferBytes;
    this.sockets = new UpstreamSockets(metrics, io);
    this.shares = new BindingShares(options.maxSockets, options);
    this.fireAndForget = new FireAndForget(metrics, {
      // One socket per backend carries a copy of every packet: its sends leave in runs (batchedSends).
      create: (ip, port, series) => this.sockets.create(ip, port, this.sourceIp, this.socketBufferBytes, series, { batchedSends: true }),
      close: (target) => this.sockets.close(target),
    });
    this.idleMs = options.idleMs;
    this.sourceIp = options.sourceIp;
    this.sweepTimer = setInterval(() => {
      this.expireWaiting();
      if (this.idleLeft) this.closeIdle();
      this.sockets.refillReserve(this.sourceIp, this.socketBufferBytes, this.shares.maxSockets);
    }, SWEEP_INTERVAL_MS);
    this.idleTimer = setInterval(() => this.closeIdle(), IDLE_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
    this.idleTimer.unref();
  }

  get openSockets(): number {
    return this.sockets.open;
  }

  /** Sockets opened ahead for new devices' bindings. */
  get reservedSockets(): number {
    return this.sockets.reserved;
  }

  get socketBudget(): number {
    return this.shares.maxSockets;
  }

  get waitingCount(): number {
    return this.waiting.count;
  }

  /** Datagrams queued in the kernel-bound send queue of a backend's sockets right now (the fan-out spec's queue). */
  sendQueueSize(ip: string): number {
    return this.sockets.sendQueueSize(ip);
  }

  /**
   * Sends to the ACK backend on the device's binding; its reply goes back by `returnPath`, the outcome onto `series`. With the
   * route's `protocol` and the request's `requestKey`, a reply answers the pending request with the same key, so an
   * ACK that comes after its request timed out is dropped as late instead of answering the device's next request.
   */
  sendAwaitingAck(
    ip: string,
    port: number,
    payload: Buffer,
    series: BackendSeries,
    device: DeviceEndpoint,
    returnPath: AckReturn,
    protocol?: DeviceProtocol,
    requestKey?: string,
  ): void {
    series.issued++;
    const binding = this.bindingFor(device, ip, port, series, returnPath);
    if (binding === undefined) return;
    binding.protocol = requestKey === undefined ? undefined : protocol;
    const request: PendingRequest = { binding, matchKey: requestKey, sentMs: performance.now(), series, settled: false };
    binding.pending.push(request);
    this.waiting.push(request);
    series.inFlight++;
    binding.socket.send(payload, (error) => {
      if (error) {
        series.lastError = error.message;
        // By kind, as a fire-and-forget send's: a full send queue (no_buffer) is the relay's own, a refusal the backend's.
        this.metrics.countBackendError(series, error.code);
        this.settle(request, 'write_failed');
      } else {
        series.lastSendOkMs = Date.now();
      }
    });
  }

  /** Sends without waiting or reading (the spec's fire-and-forget): each packet gets one status, `sent` or `write_failed`. */
  sendAndForget(ip: string, port: number, payload: Buffer, series: BackendSeries): void {
    this.fireAndForget.send(ip, port, payload, series);
  }

  /**
   * A packet nobody answers, to the backend whose ACKs go back: through the device's own binding where it has one,
   * so that the device's packets reach that backend in the order it sent them and from one address (through the
   * shared fire-and-forget socket, whose queue fills with every device's, they were overtaken by the device's later
   * requests: 0.36% of them under a slow mirror's load). It makes no binding (a flood of junk would hold them all)
   * and waits for nothing; each gets one status, as a fire-and-forget send does.
   */
  sendUnanswered(ip: string, port: number, payload: Buffer, series: BackendSeries, deviceIp: string, devicePort: number): void {
    const binding = this.bindings.find(deviceIp, devicePort, ip, port);
    if (binding === undefined || binding.closed) {
      this.fireAndForget.send(ip, port, payload, series);
      return;
    }
    sendForgotten(binding.socket, payload, series, this.metrics);
  }

  close(): void {
    clearInterval(this.sweepTimer);
    clearInterval(this.idleTimer);
    for (const binding of this.bindings.values()) this.sockets.close(binding);
    this.sockets.closeReserve();
    this.fireAndForget.close();
    this.bindings.clear();
  }

  private bindingFor(device: DeviceEndpoint, ip: string, port: number, series: BackendSeries, returnPath: AckReturn): Binding | undefined {
    const existing = this.bindings.find(device.ip, device.port, ip, port);
    if (existing !== undefined && !existing.closed) {
      // Most recently used last (to the second): the eviction scan starts from the least recently used.
      const nowMs = Date.now();
      if (nowMs - existing.orderedMs >= REORDER_AFTER_MS) {
        this.bindings.touch(existing);
        existing.orderedMs = nowMs;
      }
      existing.lastUsedMs = nowMs;
      existing.series = series;
      existing.returnPath = returnPath;
      return existing;
    }
    // A closed binding is never left in the table (dropBinding takes it out first); were one there, the new one
    // replaces it rather than standing behind it, where every lookup would find the closed one first.
    if (existing !== undefined) this.dropBinding(existing);
    // A share reached first gives up one of that sender's (or route's) own idle bindings, so one source or one route
    // can never take the whole budget, and within its share it is served as before.
    const refusal = this.shares.makeRoom(device, () => this.sockets.open, (which) => this.evictIdleBinding(which));
    if (refusal !== undefined) {
      series.record('dial_failed', 0);
      series.lastError = refusal.message;
      this.metrics.countRefused(refusal.reason, series);
      if (refusal.reason === 'socket_budget') this.onBudgetReached?.(this.sockets.open, this.shares.maxSockets);
      return undefined;
    }
    // A binding per device hears an ACK now and then: the bindings are watched as one (grouped).
    const socket = this.sockets.create(ip, port, this.sourceIp, this.socketBufferBytes, series, { grouped: true });
    if (socket === undefined) return undefined;
    // The device's packets nobody answers went through the shared socket while it had no binding (sendUnanswered),
    // and may still be held there for this turn's run of sends: they leave first, so its first request through the
    // new binding cannot overtake them (the backend would see the device's packets out of order).
    this.fireAndForget.sendHeld(ip, port);
    const nowMs = Date.now();
    const binding: Binding = { device: { ip: device.ip, port: device.port, route: device.route }, backendIp: ip, backendPort: port, socket, series, closed: false, pending: [], returnPath, protocol: undefined, lastUsedMs: nowMs, orderedMs: nowMs, lastTimeoutMs: 0 };
    this.shares.taken(binding);
    socket.onMessage((payload) => this.receive(binding, payload));
    socket.onError((error) => this.fail(binding, error));
    this.bindings.add(binding);
    return binding;
  }

  /**
   * Gives up the least recently used binding (of those `which` accepts) with nothing pending; false when none of the
   * oldest is idle. The scan is bounded: the packet path never walks the whole table.
   */
  private evictIdleBinding(which: (binding: Binding) => boolean = () => true): boolean {
    let scanned = 0;
    let matched = 0;
    for (const binding of this.bindings.values()) {
      if (++scanned > 16 * EVICTION_SCAN || matched > EVICTION_SCAN) break;
      if (!which(binding)) continue;
      matched++;
      if (binding.pending.length > 0) continue;
      this.dropBinding(binding);
      this.metrics.evictedBindings++;
      return true;
    }
    return false;
  }

  private receive(binding: Binding, payload: Buffer): void {
    binding.lastUsedMs = Date.now();
    const request = this.takeAnswered(binding, payload);
    if (request === undefined) {
      // Nothing waits on this device's binding: the answer to a request that timed out, or one nobody asked for.
      // Dropped either way; it can only ever have gone to this device.
      if (Date.now() - binding.lastTimeoutMs <= Math.max(60_000, 10 * this.timeoutMs)) this.metrics.lateReplies++;
      else this.metrics.strayReplies++;
      return;
    }
    this.settle(request, 'success');
    binding.returnPath.deliver(payload, binding.device);
  }

  /** The pending request this reply answers: the one with its match key, else (no protocol) the oldest. */
  private takeAnswered(binding: Binding, payload: Buffer): PendingRequest | undefined {
    while (binding.pending[0]?.settled === true) binding.pending.shift();
    const key = binding.protocol?.decodeAck(payload).matchKey;
    if (key === undefined) return binding.pending.shift();
    const index = binding.pending.findIndex((r) => !r.settled && r.matchKey === key);
    return index < 0 ? undefined : binding.pending.splice(index, 1)[0];
  }

  private fail(binding: Binding, error: NodeJS.ErrnoException): void {
    const code = error.code;
    binding.series.lastError = error.message;
    this.metrics.countBackendError(binding.series, code);
    const request = binding.pending.find((r) => !r.settled);
    if (request !== undefined) this.settle(request, 'read_failed');
  }

  private settle(request: PendingRequest, status: 'success' | Failure): void {
    if (request.settled) return;
    request.settled = true;
    request.series.inFlight--;
    const latencyMs = status === 'timeout' ? this.timeoutMs : elapsedMs(request.sentMs);
    request.series.record(status, latencyMs);
    if (status === 'success') {
      request.series.lastAckLatencyMs = latencyMs;
      this.metrics.noteAckLatency(latencyMs);
    } else if (status === 'timeout') {
      request.series.lastError = `no ACK within ${this.timeoutMs} ms`;
    }
  }

  private expireWaiting(): void {
    const nowMs = Date.now();
    this.waiting.expire(performance.now() - this.timeoutMs, (request) => {
      this.settle(request, 'timeout');
      request.binding.lastTimeoutMs = nowMs;
      const index = request.binding.pending.indexOf(request);
      if (index >= 0) request.binding.pending.splice(index, 1);
    });
  }

  private closeIdle(): void {
    const idleMs = this.idleMs ?? Math.max(30_000, 2 * this.timeoutMs);
    const before = Date.now() - idleMs;
    let closed = 0;
    this.idleLeft = false;
    for (const binding of this.bindings.values()) {
      // Least recently used first (to the second, REORDER_AFTER_MS): the first one still in use ends the scan. Those
      // behind it are idle at most a second past the limit, and closed at a later sweep.
      if (binding.lastUsedMs >= before) break;
      if (binding.pending.length > 0) continue;
      if (closed === IDLE_CLOSES_PER_SWEEP) {
        this.idleLeft = true;
        break;
      }
      this.dropBinding(binding);
      closed++;
    }
  }

  private dropBinding(binding: Binding): void {
    if (!this.bindings.delete(binding)) return;
    this.shares.released(binding);
    this.sockets.close(binding);
  }
}

