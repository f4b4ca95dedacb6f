import { performance } from 'node:perf_hooks';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { DatagramSocket } from '../core/udp-io/datagram-socket.ts';
import type { BackendSeries } from './relay-metrics.ts';

export type Failure = 'timeout' | 'write_failed' | 'read_failed' | 'dial_failed';

/** A request to the ACK backend, waiting for its reply on its device's binding. */
export interface PendingRequest {
  binding: Binding;
  /** The protocol's key tying the request to its ACK (CalAmp: the sequence number); undefined: first come, first served. */
  matchKey: string | undefined;
  /** performance.now() at the send: a number, where process.hrtime.bigint() allocated a BigInt per packet. */
  sentMs: number;
  series: BackendSeries;
  settled: boolean;
}

/**
 * One device's socket towards one ACK backend, held like a NAT binding: every reply on it belongs to that device and
 * to no other, so a late or duplicated ACK can never reach another device. Requests wait on it oldest first.
 */
export interface Binding {
  /** The device it belongs to, and the route it came in on: what the per-source and per-route shares count. */
  device: DeviceEndpoint;
  backendIp: string;
  backendPort: number;
  socket: DatagramSocket;
  series: BackendSeries;
  closed: boolean;
  pending: PendingRequest[];
  /** Where its ACKs go back to the device: the listener the device last sent to. */
  returnPath: AckReturn;
  /** The route's protocol, which reads the match key off a reply; undefined: replies answer the oldest request. */
  protocol: DeviceProtocol | undefined;
  lastUsedMs: number;
  /** When it last moved to the most recently used end of the pool's table. */
  orderedMs: number;
  /** When a request on it last timed out: a reply with none pending soon after is late, otherwise stray. */
  lastTimeoutMs: number;
}

/** The socket a backend's fire-and-forget packets leave from: send only; whatever comes back is read and dropped. */
export interface ForgetSocket {
  socket: DatagramSocket;
  closed: boolean;
  series: BackendSeries;
}

/** How an ACK goes back to its device: one per listener, so that no packet allocates its own way back. */
export interface AckReturn {
  deliver(ack: Buffer, device: DeviceEndpoint): void;
}

/** A device as the pool knows it: its address and port, and the route port it sent to. */
export interface DeviceEndpoint {
  ip: string;
  port: number;
  route: number;
}

export interface UpstreamOptions {
  timeoutMs: number;
  /** Each upstream socket's buffers (app.socket_buffer_bytes), and what it may hold waiting to leave beyond them. */
  socketBufferBytes: number;
  /** Upstream sockets the relay may hold at once (bindings and fire-and-forget sockets). */
  maxSockets: number;
  /**
   * Bindings one source address may hold (default: a quarter of the budget). Generous, because a carrier's NAT puts
   * many devices behind one address, but short of the whole budget, so no one sender takes it all.
   */
  maxSocketsPerSource?: number;
  /** Bindings one route may hold (default: three quarters of the budget): a burst on one route leaves room for the others. */
  maxSocketsPerRoute?: number;
  /** A binding unused this long is closed and its socket given back (default: 30 s or twice the timeout). */
  idleMs?: number;
  sourceIp?: string;
}

export function decrement<K>(counts: Map<K, number>, key: K): void {
  const count = (counts.get(key) ?? 0) - 1;
  if (count > 0) counts.set(key, count);
  else counts.delete(key);
}

/** Milliseconds since `sinceMs`, a performance.now() reading. */
export function elapsedMs(sinceMs: number): number {
  return performance.now() - sinceMs;
}
