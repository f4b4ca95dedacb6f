import { datagramPath, ioChoiceFromEnv } from '../core/udp-io/datagram-path.ts';
import { arrivalNs, type DatagramPath, type DatagramSocket, type Sender } from '../core/udp-io/datagram-socket.ts';
import { monotonicNs } from '../core/clock.ts';
import { payloadHash } from '../core/payload-hash.ts';
import { NetworkError } from '../core/errors.ts';
import { debug } from '../core/debug.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { Observation } from '../store/observation-writer.ts';
import { FaultDice, NO_FAULTS, SIMULATED_NAK_REASON, type FaultPlan } from './fault-plan.ts';
import { DropsSince } from '../core/udp-socket-table.ts';

/** Socket buffers sized for bursts of 50k packets/s (the kernel default of 208 KiB loses ~1% there). */
export const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

export type BackendRole = string;

export interface ObservationSink {
  add(observation: Observation): void;
}

export interface SimulatedBackendOptions {
  protocol: DeviceProtocol;
  /** Address to listen on; every port in `ports` is bound on it. */
  ip: string;
  ports: readonly number[];
  /** primary, mirror, or target-N: names the legs it observes (`relay>primary`, `primary>relay`). */
  role: BackendRole;
  faults?: Partial<FaultPlan>;
  /** Where to record what it receives and sends; nothing is recorded without one. */
  sink?: ObservationSink;
}

export interface BackendCounters {
  received: number;
  lost: number;
  blackholed: number;
  acked: number;
  naked: number;
  duplicateAcks: number;
  /** Answers to requests it never received (phantomAckRate). */
  phantomAcks: number;
  unparsed: number;
  sendErrors: number;
}

/**
 * A device server that answers as a real one would (the protocol's ACK for every request that wants one), misbehaves
 * on demand (loss, latency, NAKs, duplicate ACKs, another app version, a black hole, a crash), and records the
 * packets of its two legs as observations.
 */
export class SimulatedBackend {
  readonly counters: BackendCounters = { received: 0, lost: 0, blackholed: 0, acked: 0, naked: 0, duplicateAcks: 0, phantomAcks: 0, unparsed: 0, sendErrors: 0 };
  /** Each port's socket with its own address, read once: dgram's address() is a system call. */
  private readonly sockets: Listening[] = [];
  private readonly path: DatagramPath;
  private readonly plan: FaultPlan;
  private readonly dice: FaultDice;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Answers waiting for their delay: what a run's drain waits for. */
  owedAnswers = 0;
  /** The longest any answer took from receipt to sending, as measured: a drain waits a few times this. */
  slowestAnswerMs = 0;
  /** When a datagram last reached it (CLOCK_MONOTONIC ns, its arrival stamp): a drain waits until it has been quiet a while. */
  lastReceivedNs = 0n;
  private startedMs = 0;
  private crashed = false;
  /** What the kernel dropped at its listening sockets since they were bound. */
  private drops: DropsSince | undefined;

  constructor(private readonly options: SimulatedBackendOptions) {
    this.plan = { ...NO_FAULTS, ...options.faults };
    this.dice = new FaultDice(this.plan);
    // The C datagram path where it is built, as the relay's (PARITY_UDP_IO chooses otherwise).
    this.path = datagramPath(ioChoiceFromEnv());
  }

  get role(): BackendRole {
    return this.options.role;
  }

  get ip(): string {
    return this.options.ip;
  }

  get ports(): readonly number[] {
    return this.sockets.map((listening) => listening.local.port);
  }

  async start(): Promise<void> {
    this.startedMs = Date.now();
    for (const port of this.options.ports) this.sockets.push(await this.bind(port));
    this.drops = new DropsSince(() => new Set(this.sockets.map(({ local }) => `${local.address}:${local.port}`)), (socket) => socket.remote === null);
    if (this.plan.crashAfterMs !== undefined) this.later(this.plan.crashAfterMs, () => this.crash());
    debug('backend %s listening on %s ports %o', this.role, this.ip, this.ports);
  }

  /**
   * Datagrams the kernel dropped on arrival at its sockets since they were bound, their receive buffers full: packets
   * the relay sent that this stand-in for a backend lost through the harness's machine being too busy, not through a
   * fault it was asked for. Null where that cannot be seen (not Linux), or once its sockets closed (a crash).
   */
  receiveDrops(): number | null {
    return this.sockets.length === 0 ? null : (this.drops?.count() ?? null);
  }

  /** Resolves once no delayed ACK is waiting to be sent (or after `timeoutMs`). */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.timers.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.owedAnswers = 0;
    await Promise.all(this.sockets.map(({ socket }) => socket.close()));
    this.sockets.length = 0;
  }

  private async bind(port: number): Promise<Listening> {
    let socket: DatagramSocket;
    try {
      socket = await this.path.listen(this.options.ip, port, UDP_BUFFER_BYTES, { arrivalTimes: true });
    } catch (cause) {
      throw new NetworkError(`backend ${this.role}: cannot listen on ${this.options.ip}:${port}: ${(cause as Error).message}`, {}, { cause });
    }
    const listening: Listening = { socket, local: { address: this.options.ip, port: socket.localPort() } };
    socket.onMessage((payload, remote) => this.receive(listening, payload, remote));
    // What fails on a listening socket is an answer that could not be sent.
    socket.onError((error) => {
      this.counters.sendErrors++;
      debug('backend %s socket error: %s', this.role, error.message);
    });
    return listening;
  }

  private receive(listening: Listening, payload: Buffer, remote: Sender): void {
    const tsNs = arrivalNs(remote);
    if (this.plan.blackholeAfterMs !== undefined && Date.now() - this.startedMs >= this.plan.blackholeAfterMs) {
      this.counters.blackholed++;
      return;
    }
    if (this.dice.lose()) {
      this.counters.lost++;
      return;
    }
    this.counters.received++;
    this.lastReceivedNs = tsNs;
    const { local } = listening;
    const request = this.options.protocol.decode(payload);
    if (request.kind === 'unparsed') this.counters.unparsed++;
    this.options.sink?.add({
      leg: `relay>${this.role}`,
      tsNs,
      srcIp: remote.address,
      srcPort: remote.port,
      dstIp: local.address,
      dstPort: local.port,
      routePort: local.port,
      payload,
      kind: request.kind,
      matchKey: request.matchKey,
      observer: `backend:${this.role}`,
      keepPayload: false,
    });
    const nak = this.dice.nak();
    const ack = this.options.protocol.buildAck(payload, {
      appVersion: this.plan.ackVersion,
      ...(nak && { nakReason: SIMULATED_NAK_REASON }),
    });
    if (ack === undefined) return;
    const copies = this.dice.duplicate() ? 2 : 1;
    const phantom = this.dice.phantom() ? this.phantomAnswer(payload) : undefined;
    const delayMs = this.dice.delayMs();
    const requestHash = payloadHash(payload);
    const answer = (): void => {
      this.slowestAnswerMs = Math.max(this.slowestAnswerMs, Number(monotonicNs() - tsNs) / 1e6);
      for (let i = 0; i < copies; i++) this.sendAck(listening, ack, remote, local.port, requestHash);
      if (nak) this.counters.naked++;
      else this.counters.acked++;
      if (copies > 1) this.counters.duplicateAcks++;
      if (phantom !== undefined) {
        this.sendAck(listening, phantom.ack, remote, local.port, phantom.requestHash);
        this.counters.phantomAcks++;
      }
    };
    if (delayMs <= 0) answer();
    else {
      this.owedAnswers++;
      this.later(delayMs, () => {
        this.owedAnswers--;
        answer();
      });
    }
  }

  /** An answer to a request no one sent: the request's bytes with their last byte changed, answered. */
  private phantomAnswer(payload: Buffer): { ack: Uint8Array; requestHash: number } | undefined {
    const made = Buffer.from(payload);
    if (made.length === 0) return undefined;
    made[made.length - 1] = (made[made.length - 1] as number) ^ 0xff;
    const ack = this.options.protocol.buildAck(made, { appVersion: this.plan.ackVersion });
    return ack === undefined ? undefined : { ack, requestHash: payloadHash(made) };
  }

  private sendAck({ socket, local }: Listening, ack: Uint8Array, remote: Sender, routePort: number, requestHash: number): void {
    if (this.crashed) return;
    const decoded = this.options.protocol.decodeAck(ack);
    this.options.sink?.add({
      leg: `${this.role}>relay`,
      tsNs: monotonicNs(),
      srcIp: local.address,
      srcPort: local.port,
      dstIp: remote.address,
      dstPort: remote.port,
      routePort,
      payload: ack,
      kind: decoded.kind,
      matchKey: decoded.matchKey,
      observer: `backend:${this.role}`,
      keepPayload: true,
      replyToHash: requestHash,
    });
    socket.sendTo(ack, remote.port, remote.address);
  }

  private crash(): void {
    this.crashed = true;
    debug('backend %s crashes', this.role);
    for (const { socket } of this.sockets) void socket.close();
    this.sockets.length = 0;
  }

  private later(delayMs: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, delayMs);
    this.timers.add(timer);
  }
}

/** A port's socket and the address it is bound to. */
interface Listening {
  socket: DatagramSocket;
  local: Sender;
}
