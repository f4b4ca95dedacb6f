import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';
import { fitsWaiting, type DatagramPath, type DatagramSocket, type Sender } from './datagram-socket.ts';

/** Sockets on Node's dgram: the path where the C addon is not built, and for IPv6 listeners. */
export const dgramIo: DatagramPath = {
  kind: 'dgram',
  listen(ip, port, bufferBytes) {
    const socket = dgram.createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4', recvBufferSize: bufferBytes, sendBufferSize: bufferBytes, lookup: literalLookup });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, ip, () => {
        socket.removeListener('error', reject);
        resolve(new DgramSocket(socket, true, bufferBytes));
      });
    });
  },
  upstream(ip, port, sourceIp, bufferBytes) {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: bufferBytes, sendBufferSize: bufferBytes });
    const relaySocket = new DgramSocket(socket, false, bufferBytes);
    relaySocket.dial(ip, port, sourceIp);
    return relaySocket;
  },
};

/**
 * Node sends on a connected UDP socket only once connect() has completed: sends before that wait in a backlog. With
 * a source address the socket is bound to it first, so the relay's upstream traffic comes from the relay's address.
 */
class DgramSocket implements DatagramSocket {
  /** Sends made before the socket connected, in order. */
  private readonly backlog: { payload: Buffer; done: (error: NodeJS.ErrnoException | null) => void }[] = [];
  private backlogBytes = 0;
  private closed = false;

  constructor(
    private readonly socket: dgram.Socket,
    private connected: boolean,
    private readonly bufferBytes: number,
  ) {}

  dial(ip: string, port: number, sourceIp: string | undefined): void {
    const connect = (): void =>
      this.socket.connect(port, ip, () => {
        if (this.closed) return;
        this.connected = true;
        this.backlogBytes = 0;
        for (const { payload, done } of this.backlog.splice(0)) this.socket.send(payload, done);
      });
    if (sourceIp === undefined) connect();
    else this.socket.bind(0, sourceIp, connect);
  }

  send(payload: Buffer, done: (error: NodeJS.ErrnoException | null) => void): void {
    if (this.closed) done(closedSocketError());
    else if (!this.roomFor(payload.length)) done(tooMuchWaitingError('the backend', this.bufferBytes));
    else if (this.connected) this.socket.send(payload, done);
    else {
      this.backlog.push({ payload, done });
      this.backlogBytes += payload.length;
    }
  }

  sendTo(payload: Uint8Array, port: number, address: string): void {
    if (this.roomFor(payload.length)) this.socket.send(payload, port, address, this.reportSendError);
    else this.reportSendError(tooMuchWaitingError(`${address}:${port}`, this.bufferBytes));
  }

  /** What waits: in Node's queue (libuv's, sends that met a full buffer) and before the socket connected. */
  private roomFor(bytes: number): boolean {
    return fitsWaiting(this.backlogBytes + (this.connected ? this.socket.getSendQueueSize() : 0), bytes, this.bufferBytes);
  }

  /**
   * dgram drops the error of a send without a callback that fails at once (a datagram larger than UDP allows:
   * EMSGSIZE) without a word; here it reaches onError, as a failed send must.
   */
  private readonly reportSendError = (error: Error | null): void => {
    if (error !== null && this.socket.listenerCount('error') > 0) this.socket.emit('error', error);
  };

  onMessage(receive: (payload: Buffer, from: Sender) => void): void {
    this.socket.on('message', receive);
  }

  onError(fail: (error: NodeJS.ErrnoException) => void): void {
    this.socket.on('error', fail);
  }

  /** Node's dgram holds no sends for a hand-out: each leaves when it is made. */
  sendHeld(): void {}

  sendQueueCount(): number {
    return this.socket.getSendQueueCount() + this.backlog.length;
  }

  localPort(): number {
    return this.socket.address().port;
  }

  /** Node's dgram hands no descriptor over to ask. */
  receiveDrops(): undefined {
    return undefined;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    // Every send gets its outcome, as on the C path: those that never reached Node's socket fail here.
    for (const { done } of this.backlog.splice(0)) done(closedSocketError());
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        // Already closed by an error: nothing left to release.
        resolve();
      }
    });
  }
}

/** A send refused because the socket's buffer size already waits to leave (fitsWaiting): the C path's ENOBUFS. */
function tooMuchWaitingError(to: string, bufferBytes: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`send ENOBUFS ${to}: ${bufferBytes} bytes already wait to leave`), { code: 'ENOBUFS', syscall: 'send' });
}

/** A send on a socket closed before it could leave: the error the C path gives it (EBADF). */
function closedSocketError(): NodeJS.ErrnoException {
  return Object.assign(new Error('send EBADF a closed socket'), { code: 'EBADF', syscall: 'send' });
}

/**
 * The listeners' address lookup: a listener sends only to devices, by the address they came from, and dns.lookup
 * answers an address literal on the next tick, a deferral and a closure per ACK relayed. Answered at once here.
 */
const literalLookup = ((hostname: string, family: number, callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void): void => {
  const literal = isIP(hostname);
  if (literal !== 0) callback(null, hostname, literal);
  else dns.lookup(hostname, family, callback);
}) as unknown as typeof dns.lookup;
