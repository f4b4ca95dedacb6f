/** Where a datagram came from. */
export interface Sender {
  address: string;
  port: number;
}

/**
 * A UDP socket as the relay uses one: a listener that answers devices (`sendTo`), or an upstream socket connected to
 * one backend (`send`). Two implementations: Node's dgram, and the relay's own batched path in C (udp-io.c).
 */
export interface RelaySocket {
  /**
   * Sends to the connected backend, at once or (while the socket connects, or its send buffer is full) once it can;
   * `done` gets the outcome, with the system's error code on the Error.
   */
  send(payload: Buffer, done: (error: NodeJS.ErrnoException | null) => void): void;
  /** Sends to a device from a listener; a send that fails is reported through onError. */
  sendTo(payload: Buffer, port: number, address: string): void;
  onMessage(receive: (payload: Buffer, from: Sender) => void): void;
  /** Errors of the socket itself: a backend that refuses (ICMP), a read that fails. */
  onError(fail: (error: NodeJS.ErrnoException) => void): void;
  /** Datagrams waiting to leave (the fan-out spec's send queue). */
  sendQueueCount(): number;
  close(): Promise<void>;
}

/** How the relay makes its sockets; `kind` names the path in its start log and at /debug/health. */
export interface RelayIo {
  readonly kind: 'native' | 'dgram';
  /** A socket bound to ip:port; rejects when the port cannot be bound. */
  listen(ip: string, port: number, bufferBytes: number): Promise<RelaySocket>;
  /** A socket connected to ip:port, bound to `sourceIp` first when given; throws when no socket can be made. */
  upstream(ip: string, port: number, sourceIp: string | undefined, bufferBytes: number): RelaySocket;
}
