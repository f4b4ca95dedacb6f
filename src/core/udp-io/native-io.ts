import { isIPv4 } from 'node:net';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { dgramIo } from './dgram-io.ts';
import { fitsWaiting, type DatagramPath, type DatagramSocket, type Sender, type SocketOpenedAhead, type SocketOptions } from './datagram-socket.ts';
import { Ipv4Addresses, ipv4Number, wouldBlock } from './ipv4.js';
import { READABLE, WRITABLE, type UdpIo, type UdpWatch } from './udp-io.ts';
import { SendSpace, type OutgoingDatagram } from './send-batch.ts';
import { SocketGroup, type GroupMember } from './socket-group.ts';

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
  const shared = new Batch(io);
  return {
    kind: 'native',
    async listen(ip, port, bufferBytes, options = {}) {
      if (!isIPv4(ip)) return dgramIo.listen(ip, port, bufferBytes);
      const arrivalTimes = options.arrivalTimes === true;
      const fd = io.open(ipv4Number(ip), port, bufferBytes, arrivalTimes);
      if (fd < 0) throw systemError(fd, 'bind', `${ip}:${port}`);
      return new NativeSocket(shared, fd, bufferBytes, arrivalTimes, options.batchedSends === true, false);
    },
    upstream(ip, port, sourceIp, bufferBytes, options = {}) {
      if (!isIPv4(ip) || (sourceIp !== undefined && !isIPv4(sourceIp))) return dgramIo.upstream(ip, port, sourceIp, bufferBytes);
      return opened(sourceIp, bufferBytes, options, `${ip}:${port}`).connect(ip, port);
    },
    openAhead(sourceIp, bufferBytes, options = {}) {
      if (sourceIp !== undefined && !isIPv4(sourceIp)) return undefined;
      return opened(sourceIp, bufferBytes, options, sourceIp ?? 'any address');
    },
  };

  /** An upstream socket bound to `sourceIp` (IPv4, or any address) and not yet connected; `where` names it in an error. */
  function opened(sourceIp: string | undefined, bufferBytes: number, options: SocketOptions, where: string): OpenedAhead {
    const arrivalTimes = options.arrivalTimes === true;
    const fd = io.open(sourceIp === undefined ? 0 : ipv4Number(sourceIp), 0, bufferBytes, arrivalTimes);
    if (fd < 0) throw systemError(fd, 'socket', where);
    return new OpenedAhead(io, fd, new NativeSocket(shared, fd, bufferBytes, arrivalTimes, options.batchedSends === true, options.grouped === true));
  }
}

/** Datagrams a socket opened ahead held before it was connected, read to be dropped: their bytes are cut short. */
const DRAIN_SLOT = 16;
const drained = { slab: Buffer.allocUnsafe(DRAIN_SLOT * BATCH), lengths: new Int32Array(BATCH), from: new Uint32Array(2 * BATCH) };

class OpenedAhead implements SocketOpenedAhead {
  constructor(
    private readonly io: UdpIo,
    private readonly fd: number,
    private readonly socket: NativeSocket,
  ) {}

  connect(ip: string, port: number): DatagramSocket {
    if (!isIPv4(ip)) {
      void this.socket.close();
      throw systemError(-constants.errno.EAFNOSUPPORT, 'connect', `${ip}:${port}`);
    }
    const connected = this.io.connect(this.fd, ipv4Number(ip), port);
    if (connected < 0) {
      void this.socket.close();
      throw systemError(connected, 'connect', `${ip}:${port}`);
    }
    // Connected, the socket takes only the backend's datagrams from now on; anyone's sent to its port before are
    // still queued, and must not pass for the backend's answers. Nothing was sent yet, so nothing queued is an answer.
    while (this.io.recv(this.fd, drained.slab, DRAIN_SLOT, drained.lengths, drained.from, undefined) === BATCH);
    return this.socket;
  }

  localPort(): number {
    return this.socket.localPort();
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

/**
 * What every socket of the path shares: the read slab and its arrays (a batch is handed out before the next read), the
 * address cache, the group of quiet sockets, and the sends held while received datagrams are handed out.
 */
class Batch {
  readonly slab = Buffer.allocUnsafe(SLOT_BYTES * BATCH);
  readonly lengths = new Int32Array(BATCH);
  readonly from = new Uint32Array(2 * BATCH);
  /** Arrival times, for sockets opened with them. */
  readonly stamps = new Float64Array(BATCH);
  /** Each grouped read's socket. */
  readonly fds = new Int32Array(BATCH);
  /** Devices' addresses, converted once each: a listener hears from and answers the same devices over and over. */
  readonly addresses = new Ipv4Addresses();
  readonly sends: SendSpace;
  readonly group: SocketGroup;
  /** Sockets with sends held until the hand-out under way ends (`batchedSends`), in the order they first held one. */
  private readonly held: NativeSocket[] = [];
  private dispatching = 0;

  constructor(readonly io: UdpIo) {
    this.sends = new SendSpace(io);
    this.group = new SocketGroup(io, { slab: this.slab, slotBytes: SLOT_BYTES, lengths: this.lengths, from: this.from, fds: this.fds, stamps: this.stamps }, (handOut) => this.dispatch(handOut));
  }

  /** Whether received datagrams are being handed out, so that a batching socket holds its sends. */
  get handingOut(): boolean {
    return this.dispatching > 0;
  }

  hold(socket: NativeSocket): void {
    this.held.push(socket);
  }

  /** Hands out received datagrams; the sends they cause on batching sockets leave when the outermost hand-out ends. */
  dispatch(handOut: () => void): void {
    this.dispatching++;
    try {
      handOut();
    } finally {
      if (--this.dispatching === 0) this.release();
    }
  }

  private release(): void {
    // A socket's release may hand out nothing, but its sends' callbacks may send again: those leave at once.
    for (let i = 0; i < this.held.length; i++) (this.held[i] as NativeSocket).releaseHeld();
    this.held.length = 0;
  }
}

const EBADF = -constants.errno.EBADF;
/** What a socket does with a datagram, or an error, before its owner says (onMessage, onError): shared, not one each. */
const ignoreDatagram = (): void => undefined;
const ignoreError = (): void => undefined;
const ENOBUFS = -constants.errno.ENOBUFS;

class NativeSocket implements DatagramSocket, GroupMember {
  /** Its own watch; a grouped socket has one only while a send waits for room (writable). */
  private watch: UdpWatch | undefined;
  /**
   * Sends that met a full send buffer, waiting, in order, for the socket to drain (as Node's dgram queues them), up to
   * `bufferBytes` of them (fitsWaiting).
   *
   * This array, `held` and the three callbacks below are made when first needed: a relay opens a socket per device
   * (and one ahead for the next), most of which never wait or hold a send nor read on their own (grouped). The heap a
   * new device keeps fell by a quarter (1.3 to 1.0 KB, and 650 to 450 B a socket), all of it memory the young
   * generation copies while a thousand devices arrive.
   */
  private queued: OutgoingDatagram[] | undefined;
  private queuedBytes = 0;
  /** Sends held while received datagrams are handed out (`batchedSends`): they leave together when it ends. */
  private held: OutgoingDatagram[] | undefined;
  private receive: (payload: Buffer, from: Sender) => void = ignoreDatagram;
  private fail: (error: NodeJS.ErrnoException) => void = ignoreError;
  private closed = false;
  private settleHeld: ((send: OutgoingDatagram, result: number) => void) | undefined;
  private stillOpen: (() => boolean) | undefined;
  private readOwn: (() => void) | undefined;

  constructor(
    private readonly batch: Batch,
    private readonly fd: number,
    private readonly bufferBytes: number,
    private readonly arrivalTimes: boolean,
    private readonly batchesSends: boolean,
    private readonly grouped: boolean,
  ) {
    if (grouped) {
      const added = batch.group.add(fd, this, arrivalTimes);
      if (added < 0) {
        batch.io.closeFd(fd);
        throw systemError(added, 'epoll_ctl', `descriptor ${fd}`);
      }
      return;
    }
    this.watch = this.watchFor(READABLE);
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

  sendHeld(): void {
    this.releaseHeld();
  }

  sendQueueCount(): number {
    return (this.queued?.length ?? 0) + (this.held?.length ?? 0);
  }

  localPort(): number {
    return this.batch.io.localPort(this.fd);
  }

  receiveDrops(): number | undefined {
    const drops = this.batch.io.receiveDrops(this.fd);
    return drops < 0 ? undefined : drops;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.grouped) this.batch.group.remove(this.fd, this.arrivalTimes);
    if (this.watch !== undefined) this.batch.io.close(this.watch);
    else this.batch.io.closeFd(this.fd);
    const held = this.held;
    const queued = this.queued;
    this.held = undefined;
    this.queued = undefined;
    this.queuedBytes = 0;
    if (held !== undefined) this.failAll(held);
    if (queued !== undefined) this.failAll(queued);
    // The socket is closed by now (udp-io.c, js_close): its address is free for the next bind.
    return Promise.resolve();
  }

  /** A datagram the group read for this socket, in slot `slot` of the shared slab. */
  take(slot: number): void {
    if (this.closed) return;
    this.deliver(slot);
  }

  /** An error the group's read met on this socket (a backend that refused an earlier datagram). */
  readFailed(result: number): void {
    if (!this.closed) this.fail(systemError(result, 'recvmsg', 'the socket'));
  }

  /** Sends the held sends, once the hand-out that held them has ended (Batch.release). */
  releaseHeld(): void {
    const held = this.held;
    if (held === undefined || held.length === 0) return;
    this.held = undefined;
    if (this.closed) {
      this.failAll(held);
      return;
    }
    this.settleHeld ??= (send, result) => this.settle(send, result);
    this.stillOpen ??= () => !this.closed;
    const stopped = this.batch.sends.send(this.fd, held, this.settleHeld, this.stillOpen);
    if (stopped >= held.length) return;
    const rest = held.slice(stopped);
    if (this.closed) this.failAll(rest);
    else for (const send of rest) this.wait(send);
  }

  private transmit(send: OutgoingDatagram): void {
    if (this.closed) {
      send.done?.(systemError(EBADF, 'send', 'a closed socket'));
      return;
    }
    if (this.queued !== undefined && this.queued.length > 0) {
      this.wait(send);
      return;
    }
    if (this.batchesSends && this.batch.handingOut) {
      const held = (this.held ??= []);
      if (held.length === 0) this.batch.hold(this);
      held.push(send);
      return;
    }
    this.settle(send, this.batch.io.send(this.fd, send.payload, 0, send.payload.length, send.ip, send.port));
  }

  private settle(send: OutgoingDatagram, result: number): void {
    if (result >= 0) send.done?.(null);
    else if (wouldBlock(result)) this.wait(send);
    else this.report(send, result);
  }

  private failAll(sends: readonly OutgoingDatagram[]): void {
    for (const send of sends) send.done?.(systemError(EBADF, 'send', 'a closed socket'));
  }

  /** A full send buffer: the send waits, in order, for the socket to drain, or fails when too much waits already. */
  private wait(send: OutgoingDatagram): void {
    if (!fitsWaiting(this.queuedBytes, send.payload.length, this.bufferBytes)) {
      this.report(send, ENOBUFS, `${this.bufferBytes} bytes already wait to leave`);
      return;
    }
    const queued = (this.queued ??= []);
    queued.push(send);
    this.queuedBytes += send.payload.length;
    if (queued.length > 1) return;
    if (this.watch === undefined) this.watch = this.watchFor(WRITABLE);
    else this.batch.io.events(this.watch, this.grouped ? WRITABLE : READABLE | WRITABLE);
  }

  private flush(): void {
    const queued = this.queued;
    while (queued !== undefined && queued.length > 0 && !this.closed) {
      const send = queued[0] as OutgoingDatagram;
      const result = this.batch.io.send(this.fd, send.payload, 0, send.payload.length, send.ip, send.port);
      if (wouldBlock(result)) return;
      queued.shift();
      this.queuedBytes -= send.payload.length;
      if (result >= 0) send.done?.(null);
      else this.report(send, result);
    }
    // A grouped socket's own watch is only for room to send: it stops watching (0) until a send waits again.
    if (!this.closed && this.watch !== undefined) this.batch.io.events(this.watch, this.grouped ? 0 : READABLE);
  }

  private report(send: OutgoingDatagram, result: number, why?: string): void {
    const to = send.port === 0 ? 'the backend' : `${this.batch.addresses.text(send.ip)}:${send.port}`;
    const error = systemError(result, 'send', why === undefined ? to : `${to}: ${why}`);
    if (send.done !== undefined) send.done(error);
    else this.fail(error);
  }

  private watchFor(events: number): UdpWatch {
    const watch = this.batch.io.watch(this.fd, events, (ready) => this.ready(ready));
    if (typeof watch === 'number') {
      if (this.grouped) this.batch.group.remove(this.fd, this.arrivalTimes);
      this.batch.io.closeFd(this.fd);
      this.closed = true;
      throw systemError(watch, 'poll', `descriptor ${this.fd}`);
    }
    return watch;
  }

  private ready(events: number): void {
    if (this.closed) return;
    if ((events & WRITABLE) !== 0) this.flush();
    if ((events & READABLE) !== 0) this.batch.dispatch((this.readOwn ??= () => this.read()));
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
      for (let i = 0; i < count && !this.closed; i++) this.deliver(i);
      if (count < BATCH) return;
    }
  }

  /** Datagram `slot` of the shared slab, copied out (a handler may keep it) and handed to the handler. */
  private deliver(slot: number): void {
    const { slab, lengths, from, stamps } = this.batch;
    const length = lengths[slot] as number;
    if (length < 0) return; // larger than an IPv4 datagram can be: cannot happen
    const start = slot * SLOT_BYTES;
    const payload = Buffer.allocUnsafe(length);
    slab.copy(payload, 0, start, start + length);
    const sender: Sender = { address: this.batch.addresses.text(from[2 * slot] as number), port: from[2 * slot + 1] as number };
    // 0: the kernel gave no stamp (it always does on a socket opened with them; the rule stays explicit).
    if (this.arrivalTimes && (stamps[slot] as number) > 0) sender.arrivedNs = stamps[slot] as number;
    this.receive(payload, sender);
  }
}

/** An Error as Node's own sockets make them: `code`, `errno` and `syscall`, and the address in the message. */
function systemError(result: number, syscall: string, where: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(result);
  return Object.assign(new Error(`${syscall} ${code} ${where}`), { code, errno: result, syscall });
}
