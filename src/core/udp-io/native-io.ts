import { isIPv4 } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { dgramIo } from './dgram-io.ts';
import type { DatagramPath, DatagramSocket, Sender } from './datagram-socket.ts';
import { Ipv4Addresses, ipv4Number, wouldBlock } from './ipv4.js';
import { READABLE, WRITABLE, type UdpIo, type UdpWatch } from './udp-io.ts';

/** A slot per datagram as large as an IPv4 datagram can be, so nothing is ever cut. */
const SLOT_BYTES = 65_536;
const BATCH = 64;
/**
 * Batches read from one socket before the event loop's other sockets get their turn (libuv reads 32 datagrams a turn
 * for dgram): with 16, a backend answering a burst from the same process's client filled the client's receive buffer
 * before the client read once, and 80% of the answers were dropped by the kernel.
 */
const ROUNDS_PER_TURN = 1;

/**
 * Sockets on udp-io.c: IPv4 only (an IPv6 address, or a name, is dgram's). Reads are batched, one slab shared by
 * every socket (a batch is handed out before the next read), and each datagram copied out of it, so a handler may keep
 * its payload.
 */
export function nativeIo(io: UdpIo): DatagramPath {
  const shared: Batch = { io, slab: Buffer.allocUnsafe(SLOT_BYTES * BATCH), lengths: new Int32Array(BATCH), from: new Uint32Array(2 * BATCH), stamps: new Float64Array(BATCH), addresses: new Ipv4Addresses() };
  return {
    kind: 'native',
    async listen(ip, port, bufferBytes, options = {}) {
      if (!isIPv4(ip)) return dgramIo.listen(ip, port, bufferBytes);
      const arrivalTimes = options.arrivalTimes === true;
      const fd = io.open(ipv4Number(ip), port, bufferBytes, arrivalTimes);
      if (fd < 0) throw systemError(fd, 'bind', `${ip}:${port}`);
      return new NativeSocket(shared, fd, arrivalTimes);
    },
    upstream(ip, port, sourceIp, bufferBytes, options = {}) {
      if (!isIPv4(ip) || (sourceIp !== undefined && !isIPv4(sourceIp))) return dgramIo.upstream(ip, port, sourceIp, bufferBytes);
      const arrivalTimes = options.arrivalTimes === true;
      const fd = io.open(sourceIp === undefined ? 0 : ipv4Number(sourceIp), 0, bufferBytes, arrivalTimes);
      if (fd < 0) throw systemError(fd, 'socket', `${ip}:${port}`);
      const connected = io.connect(fd, ipv4Number(ip), port);
      if (connected < 0) {
        io.closeFd(fd);
        throw systemError(connected, 'connect', `${ip}:${port}`);
      }
      return new NativeSocket(shared, fd, arrivalTimes);
    },
  };
}

interface Batch {
  io: UdpIo;
  slab: Buffer;
  lengths: Int32Array;
  from: Uint32Array;
  /** Arrival times, for sockets opened with them. */
  stamps: Float64Array;
  /** Devices' addresses, converted once each: a listener hears from and answers the same devices over and over. */
  addresses: Ipv4Addresses;
}

/** A send that met a full socket buffer, waiting for the socket to be writable. */
interface QueuedSend {
  payload: Uint8Array;
  ip: number;
  port: number;
  done: ((error: NodeJS.ErrnoException | null) => void) | undefined;
}

class NativeSocket implements DatagramSocket {
  private readonly watch: UdpWatch;
  private readonly queued: QueuedSend[] = [];
  private receive: (payload: Buffer, from: Sender) => void = () => undefined;
  private fail: (error: NodeJS.ErrnoException) => void = () => undefined;
  private closed = false;

  constructor(
    private readonly batch: Batch,
    private readonly fd: number,
    private readonly arrivalTimes: boolean,
  ) {
    const watch = batch.io.watch(fd, READABLE, (events) => this.ready(events));
    if (typeof watch === 'number') {
      batch.io.closeFd(fd);
      throw systemError(watch, 'poll', `descriptor ${fd}`);
    }
    this.watch = watch;
  }

  send(payload: Buffer, done: (error: NodeJS.ErrnoException | null) => void): void {
    this.transmit({ payload, ip: 0, port: 0, done });
  }

  sendTo(payload: Uint8Array, port: number, address: string): void {
    this.transmit({ payload, ip: this.batch.addresses.number(address), port, done: undefined });
  }

  onMessage(receive: (payload: Buffer, from: Sender) => void): void {
    this.receive = receive;
  }

  onError(fail: (error: NodeJS.ErrnoException) => void): void {
    this.fail = fail;
  }

  sendQueueCount(): number {
    return this.queued.length;
  }

  localPort(): number {
    return this.batch.io.localPort(this.fd);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.batch.io.close(this.watch);
    for (const send of this.queued.splice(0)) send.done?.(systemError(-9 /* EBADF */, 'send', 'a closed socket'));
    // The socket is closed by now (udp-io.c, js_close): its address is free for the next bind.
    return Promise.resolve();
  }

  private transmit(send: QueuedSend): void {
    if (this.closed) {
      send.done?.(systemError(-9 /* EBADF */, 'send', 'a closed socket'));
      return;
    }
    if (this.queued.length > 0) {
      this.queued.push(send);
      return;
    }
    const result = this.batch.io.send(this.fd, send.payload, 0, send.payload.length, send.ip, send.port);
    if (result >= 0) send.done?.(null);
    else if (wouldBlock(result)) this.wait(send);
    else this.report(send, result);
  }

  /** A full send buffer: the send waits, in order, for the socket to drain, as Node's dgram queues it. */
  private wait(send: QueuedSend): void {
    this.queued.push(send);
    if (this.queued.length === 1) this.batch.io.events(this.watch, READABLE | WRITABLE);
  }

  private flush(): void {
    while (this.queued.length > 0) {
      const send = this.queued[0] as QueuedSend;
      const result = this.batch.io.send(this.fd, send.payload, 0, send.payload.length, send.ip, send.port);
      if (wouldBlock(result)) return;
      this.queued.shift();
      if (result >= 0) send.done?.(null);
      else this.report(send, result);
    }
    if (!this.closed) this.batch.io.events(this.watch, READABLE);
  }

  private report(send: QueuedSend, result: number): void {
    const error = systemError(result, 'send', send.port === 0 ? 'the backend' : `${this.batch.addresses.text(send.ip)}:${send.port}`);
    if (send.done !== undefined) send.done(error);
    else this.fail(error);
  }

  private ready(events: number): void {
    if (this.closed) return;
    if ((events & WRITABLE) !== 0) this.flush();
    if ((events & READABLE) !== 0) this.read();
  }

  private read(): void {
    const { io, slab, lengths, from, stamps } = this.batch;
    for (let round = 0; round < ROUNDS_PER_TURN && !this.closed; round++) {
      const count = io.recv(this.fd, slab, SLOT_BYTES, lengths, from, this.arrivalTimes ? stamps : undefined);
      if (count < 0) {
        // A backend that refused an earlier datagram (ICMP port unreachable) shows here, as with dgram.
        this.fail(systemError(count, 'recvmsg', 'the socket'));
        return;
      }
      for (let i = 0; i < count && !this.closed; i++) {
        const length = lengths[i] as number;
        if (length < 0) continue; // larger than an IPv4 datagram can be: cannot happen
        const start = i * SLOT_BYTES;
        const payload = Buffer.allocUnsafe(length);
        slab.copy(payload, 0, start, start + length);
        const sender: Sender = { address: this.batch.addresses.text(from[2 * i] as number), port: from[2 * i + 1] as number };
        // 0: the kernel gave no stamp (it always does on a socket opened with them; the rule stays explicit).
        if (this.arrivalTimes && (stamps[i] as number) > 0) sender.arrivedNs = stamps[i] as number;
        this.receive(payload, sender);
      }
      if (count < BATCH) return;
    }
  }
}

/** An Error as Node's own sockets make them: `code`, `errno` and `syscall`, and the address in the message. */
function systemError(result: number, syscall: string, where: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(result);
  return Object.assign(new Error(`${syscall} ${code} ${where}`), { code, errno: result, syscall });
}
