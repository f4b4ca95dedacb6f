import { monotonicNs } from '../clock.ts';

/** Where a datagram came from, and when it arrived where the socket could tell. */
export interface Sender {
  address: string;
  port: number;
  /**
   * When the kernel received it (CLOCK_MONOTONIC ns, the harness's clock), on a socket opened with `arrivalTimes`
   * where the path has them (the C one): a time that does not move when this thread reads it late.
   */
  arrivedNs?: number;
}

/**
 * When a datagram reached the socket: the kernel's stamp where the socket has one (the C path, opened with
 * `arrivalTimes`), so a datagram read late (the thread busy) is still timed when it arrived; else now, as it is read.
 */
export function arrivalNs(from: Sender): bigint {
  return from.arrivedNs === undefined ? monotonicNs() : BigInt(Math.round(from.arrivedNs));
}

/** How a socket is opened. */
export interface SocketOptions {
  /**
   * Ask the kernel to stamp each datagram's arrival (SO_TIMESTAMPNS), for whoever records when traffic passed (a tap,
   * a simulated backend): on the C path only; Node's dgram has no way to read them, and leaves `arrivedNs` out.
   */
  arrivalTimes?: boolean;
  /**
   * Sends made while the path hands out received datagrams leave together when it is done (the C path: one sendmmsg
   * per socket): for a socket that sends a burst for each burst it reads, as a relay's mirror copies and its ACKs back
   * to devices. Elsewhere a send leaves at once.
   */
  batchedSends?: boolean;
  /**
   * One of many quiet sockets (a relay's per-device bindings): the C path watches them as one, one callback per turn
   * of the event loop for all those with datagrams waiting instead of one each.
   */
  grouped?: boolean;
}

/**
 * What the kernel dropped on arrival at these sockets, each asked alone (receiveDrops); undefined when one cannot be,
 * and the kernel's table of every UDP socket is the only place to read them.
 */
export function askedDrops(sockets: Iterable<DatagramSocket>): number | undefined {
  let drops = 0;
  for (const socket of sockets) {
    const own = socket.receiveDrops();
    if (own === undefined) return undefined;
    drops += own;
  }
  return drops;
}

/**
 * A UDP socket as a proxy uses one (the reference relay, the inline tap): a listener that answers the sources it hears
 * from (`sendTo`), or an upstream socket connected to one backend (`send`). Two implementations: Node's dgram, and
 * the project's batched datagram path in C (udp-io.c).
 */
export interface DatagramSocket {
  /**
   * Sends to the connected backend, at once or (while the socket connects, or its send buffer is full) once it can;
   * `done` gets the outcome, with the system's error code on the Error: ENOBUFS when the socket's buffer size in bytes
   * already waits to leave (fitsWaiting).
   */
  send(payload: Buffer, done: (error: NodeJS.ErrnoException | null) => void): void;
  /** Sends to a device from a listener; a send that fails is reported through onError. */
  sendTo(payload: Uint8Array, port: number, address: string): void;
  onMessage(receive: (payload: Buffer, from: Sender) => void): void;
  /** Errors of the socket itself: a backend that refuses (ICMP), a read that fails. */
  onError(fail: (error: NodeJS.ErrnoException) => void): void;
  /**
   * Sends at once what the socket holds for the hand-out under way (`batchedSends`), so that a datagram sent next on
   * another socket does not overtake them; a socket that holds nothing does nothing.
   */
  sendHeld(): void;
  /** Datagrams waiting to leave (the fan-out spec's send queue). */
  sendQueueCount(): number;
  /** The port it is bound to (a listener asked for port 0 gets one). */
  localPort(): number;
  /**
   * Datagrams the kernel dropped on arrival since the socket was made, its receive buffer full; undefined where the
   * socket cannot be asked alone (Node's dgram), and the kernel's whole table must be read instead (udp-socket-table).
   */
  receiveDrops(): number | undefined;
  close(): Promise<void>;
}

/**
 * Whether a send of `bytes` may wait for room behind `waitingBytes` already waiting, on a socket opened with
 * `bufferBytes`: a socket holds at most its kernel buffer's worth again in the process (always at least one datagram).
 * Past that a send fails (ENOBUFS), as the kernel fails one its queue has no room for: a backend, or a link, slower
 * than what is sent to it would otherwise hold the process's memory without bound, and a copy sent seconds late is no
 * copy.
 */
export function fitsWaiting(waitingBytes: number, bytes: number, bufferBytes: number): boolean {
  return waitingBytes === 0 || waitingBytes + bytes <= bufferBytes;
}

/** How a proxy makes its sockets; `kind` names the path (the relay's start log and /debug/health say it). */
export interface DatagramPath {
  readonly kind: 'native' | 'dgram';
  /** A socket bound to ip:port; rejects when the port cannot be bound. */
  listen(ip: string, port: number, bufferBytes: number, options?: SocketOptions): Promise<DatagramSocket>;
  /** A socket connected to ip:port, bound to `sourceIp` first when given; throws when no socket can be made. */
  upstream(ip: string, port: number, sourceIp: string | undefined, bufferBytes: number, options?: SocketOptions): DatagramSocket;
  /**
   * A socket opened, bound and watched ahead of its use, connected later by `connect` (what `upstream` does in one
   * go): the part of making an upstream socket that can be done off the packet path. Undefined where the path cannot
   * (Node's dgram, or an IPv6 source); throws when no socket can be made.
   */
  openAhead?(sourceIp: string | undefined, bufferBytes: number, options?: SocketOptions): SocketOpenedAhead | undefined;
}

/** A socket opened ahead (`DatagramPath.openAhead`): not connected yet, and what it reads goes nowhere until it is. */
export interface SocketOpenedAhead {
  /**
   * Connects it to ip:port and returns it as an upstream socket, with nothing in it that arrived before (dropped
   * unread); throws when it cannot connect (the socket is closed then).
   */
  connect(ip: string, port: number): DatagramSocket;
  /** The port the system bound it to. */
  localPort(): number;
  close(): Promise<void>;
}
