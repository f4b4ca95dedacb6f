import { setFlagsFromString } from 'node:v8';
import { MessageChannel, Worker } from 'node:worker_threads';
import { NetworkError } from '../core/errors.ts';
import { isIPv4 } from 'node:net';
import { ioChoiceFromEnv } from '../core/udp-io/datagram-path.ts';
import { loadUdpIo, udpIoMissing, UDP_IO_PATH } from '../core/udp-io/udp-io.ts';
import type { StoredStall } from '../store/run-metadata.ts';
import { pinSenderApart } from './sender-cpu.ts';
import { senderPark } from './sender-wait.ts';
import type { SenderWaits } from './thread-clock.js';
import { batchRingMemory, batchRingViews, SLOT_PACKETS, touchBatchRing, type BatchSlot } from './batch-ring.js';
import { BatchRingSpace } from './batch-ring-space.ts';
import { ReplyRingReader, replyRingMemory, touchReplyRing } from './reply-ring.js';
import { Ipv4Addresses } from '../core/udp-io/ipv4.js';

/**
 * Batches the ring holds at once: those queued for the thread (send-loop.ts keeps at most 512), the one it sends, and
 * those whose last report the main thread has not read yet.
 */
export const RING_SLOTS = 640;
/**
 * Payload bytes the ring holds: the 3 s the main thread keeps ahead at 50k pps, of payloads up to about 440 bytes
 * (a telematics report is 60-200); with larger ones it keeps less ahead, never a batch less.
 */
const RING_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** The most payload bytes one batch may carry: a batch is cut at this many or at SLOT_PACKETS packets. */
export const MAX_BATCH_PAYLOAD_BYTES = RING_PAYLOAD_BYTES / 8;

/** The sending thread's young generation, each half: see open(). */
const SENDER_SEMI_SPACE_MB = 16;

/**
 * A batch being written for the sending thread, in the shared ring (batch-ring.js): packets in send order, their
 * offsets from the replay's start (NaN: as soon as possible), the device (its socket) that sends each, the relay port,
 * and the payloads back to back in `payload` (packet i ends at payloadEnd[i]). The arrays are a slot's, longer than
 * the batch: its first `count` entries are the batch's.
 */
export interface OutgoingBatch {
  id: number;
  count: number;
  offsetNs: Float64Array;
  device: Uint32Array;
  relayPort: Uint16Array;
  payload: Uint8Array;
  payloadEnd: Uint32Array;
  final: boolean;
  /** Where it lies in the ring. */
  slot: number;
  payloadFrom: number;
}

/** Replies the devices' sockets read, as the sending thread hands them over. */
export interface ReplyGroup {
  device: number[];
  tsNs: number[];
  ip: string[];
  port: number[];
  payloads: Uint8Array[];
}

/**
 * The collector's stops of the sending thread of 1 ms or more, from the clock's start: how many, their total and the
 * longest, and per second of the run (seconds counted from the clock's start) their total and longest.
 */
export interface SenderCollections {
  count: number;
  totalMs: number;
  maxMs: number;
  bySecond: { second: number; ms: number; maxMs: number }[];
}

/** Stretches the sending thread could not send, how many and how long in all: kept with the run as they are. */
export type SenderStall = StoredStall;

export interface SendThreadHandlers {
  onStart(startNs: number): void;
  /**
   * When packets `from`.. of batch `id` left (CLOCK_MONOTONIC ns), as they go; `last` with the batch's final report,
   * which is short when the replay stopped in it.
   */
  onSent(id: number, from: number, actualNs: Float64Array, last: boolean): void;
  onReplies(replies: ReplyGroup): void;
  onSocketError(code: string): void;
}

type WorkerMessage =
  | { type: 'ready'; ports: number[]; tid: number; waits: SenderWaits }
  | { type: 'bind-failed'; ip: string; message: string }
  | { type: 'start'; startNs: number }
  | { type: 'sent'; id: number; slot: number; from: number; to: number; last: boolean }
  | ({ type: 'replies' } & ReplyGroup)
  | { type: 'replies-ready' }
  | { type: 'socket-error'; code: string }
  | { type: 'done'; collections: SenderCollections; cpuSec: number; waitedForCpu: SenderStall | undefined; lateBatches: SenderStall }
  | { type: 'failed'; message: string }
  | { type: 'closed' };

/** How the sending thread is started; see SendThread.open. */
export interface SendThreadOptions {
  relayHost: string;
  leadNs: number;
  primeBatches: number;
  durationNs: number;
  connectPorts?: readonly number[];
  senderCpu?: number | undefined;
  /** What the run will send at most (its replies are taken to be as many and no larger): how much of the rings to map in first. */
  volume?: { packets: number; payloadBytes: number } | undefined;
}

/**
 * The replayer's sending thread (`send-worker.js`), seen from the main thread: it binds one socket per device, sends
 * the batches it is given at their scheduled times, and reports when each packet left and what came back. Nothing
 * on the main thread (reading the capture, DuckDB) can make a packet late.
 */
export class SendThread {
  /** [0] stop, [1] batches the thread has taken: read without waiting for its messages, which a busy main thread reads late. */
  private readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private posted = 0;
  /** Batches are announced on a port of their own, which the thread pulls from between sends; they lie in the ring. */
  private readonly batches = new MessageChannel();
  private readonly ringMemory = batchRingMemory(RING_SLOTS, RING_PAYLOAD_BYTES);
  private readonly ring = batchRingViews(this.ringMemory, RING_SLOTS);
  private readonly ringSpace = new BatchRingSpace(RING_SLOTS, RING_PAYLOAD_BYTES);
  /** Replies come back through a ring of their own (reply-ring.js), the thread saying when there are some. */
  private readonly replyRingMemory = replyRingMemory();
  private readonly replyRing = new ReplyRingReader(this.replyRingMemory);
  private readonly addresses = new Ipv4Addresses();
  private worker: Worker | undefined;
  private handlers: SendThreadHandlers | undefined;
  private finish: { resolve: () => void; reject: (error: Error) => void } | undefined;
  /** Resolves when the last batch is sent (or the replay stopped); rejects if the thread failed. */
  readonly finished: Promise<void>;
  ports: number[] = [];
  /** The collector's stops of the thread, once it is done. */
  collections: SenderCollections | undefined;
  /** Puts the process's threads back on every CPU, after --sender-cpu. */
  private unpin: (() => void) | undefined;
  /** The devices' datagram path: the relay's C one where it is built (and every address is IPv4), else Node's dgram. */
  io: 'native' | 'dgram' = 'dgram';
  /** How the thread waits between sends (parked in the kernel, as a real-time thread where allowed, or spinning). */
  waits: SenderWaits | undefined;
  /** CPU seconds the thread spent from its clock's start to its last send (Linux), once it is done. */
  cpuSec: number | undefined;
  /** Its waits on a run queue while another thread had its CPU (Linux), from its clock's start, once it is done. */
  waitedForCpu: SenderStall | undefined;
  /** Batches that came after their first packet was due: the main thread behind. */
  lateBatches: SenderStall | undefined;

  constructor() {
    this.finished = new Promise((resolve, reject) => (this.finish = { resolve, reject }));
    // Nobody may be waiting yet when the thread fails during binding: the failure is raised by open() then.
    this.finished.catch(() => undefined);
  }

  /** Starts the thread and binds every device's socket before anything is timed; a bind that fails is raised here. */
  async open(localIps: readonly string[], options: SendThreadOptions): Promise<void> {
    const durationNs = Number.isFinite(options.durationNs) ? options.durationNs : Number.MAX_VALUE;
    if (options.volume !== undefined) {
      // As much of the rings as the run can use, mapped in now: see touched-memory.js (a long run maps all of them,
      // about 100 MB, in about 0.4 s on this project's machine; a short one little).
      touchBatchRing(this.ring, options.volume.packets, options.volume.payloadBytes);
      touchReplyRing(this.replyRingMemory, options.volume.packets, options.volume.payloadBytes);
    }
    // The thread's young generation starts at its largest, 16 MB a half, instead of V8's 1 MB: every turn of its event
    // loop and every send allocates, and at 10k pps the collector stopped it about 9 times a second at 1 MB, about 4 at
    // 4 MB (measured: p99 lateness 110-210 µs, 65-78 µs at 4 MB); and a young generation V8 grows mid-run is collected
    // into fresh pages (warmHeap, thread-clock.js). Nor does V8's memory reducer run in it: a sending thread allocates
    // little, which that reducer takes for idleness, and its collections to give memory back took 10-12 ms each, twice,
    // 24 s into a run at 50k pps, and left the young generation to grow again. V8 reads both flags when it makes an
    // isolate, so they are set only around this one.
    setFlagsFromString(`--min-semi-space-size=${SENDER_SEMI_SPACE_MB} --no-memory-reducer`);
    const udpIoPath = deviceIo(localIps, options.relayHost);
    this.io = udpIoPath === undefined ? 'dgram' : 'native';
    const worker = new Worker(new URL('./send-worker.js', import.meta.url), {
      workerData: { localIps, connectPorts: options.connectPorts ?? [], relayHost: options.relayHost, udpIoPath, park: senderPark(), leadNs: options.leadNs, primeBatches: options.primeBatches, durationNs, shared: this.shared.buffer, batches: this.batches.port2, ring: this.ringMemory, ringSlots: RING_SLOTS, replyRing: this.replyRingMemory },
      transferList: [this.batches.port2],
    });
    // The thread makes its isolate on its own, after this returns: the flags go back once it runs, or fails to.
    const restoreFlag = (): void => setFlagsFromString('--min-semi-space-size=0 --memory-reducer');
    worker.once('online', restoreFlag);
    worker.once('error', restoreFlag);
    this.worker = worker;
    const ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          this.ports = message.ports;
          this.waits = message.waits;
          try {
            if (options.senderCpu !== undefined) this.unpin = pinSenderApart(message.tid, options.senderCpu);
            resolve();
          } catch (error) {
            reject(error as Error);
          }
        } else if (message.type === 'bind-failed') {
          const hint = message.ip.startsWith('127.') ? '' : ' (addresses outside 127.0.0.0/8 must exist on a local interface)';
          reject(new NetworkError(`replay: cannot bind a device socket on ${message.ip}: ${message.message}${hint}`));
        } else this.handle(message);
      });
      worker.on('error', (error) => {
        reject(error);
        this.finish?.reject(error);
      });
      worker.on('exit', (code) => {
        const error = new Error(`replay: the sending thread exited (code ${code}) before the replay ended`);
        reject(error);
        this.finish?.reject(error);
      });
    });
    await ready;
  }

  /** Starts sending: the clock starts once `primeBatches` are queued or the last batch is. */
  go(handlers: SendThreadHandlers): void {
    this.handlers = handlers;
    this.worker?.postMessage({ type: 'go' });
  }

  /**
   * A slot of the ring and `bytes` of its payload space for the next batch, to be written and then posted; undefined
   * while there is no room (it comes back as the thread reports each batch's last packet sent).
   */
  claim(id: number, count: number, bytes: number, final: boolean): OutgoingBatch | undefined {
    if (count > SLOT_PACKETS) throw new RangeError(`a batch holds at most ${SLOT_PACKETS} packets, not ${count}`);
    const claimed = this.ringSpace.claim(bytes);
    if (claimed === undefined) return undefined;
    const views = this.ring.slots[claimed.slot] as BatchSlot;
    const payload = this.ring.payload.subarray(claimed.payloadFrom, claimed.payloadFrom + bytes);
    return { id, count, final, slot: claimed.slot, payloadFrom: claimed.payloadFrom, offsetNs: views.offsetNs, device: views.device, relayPort: views.relayPort, payloadEnd: views.payloadEnd, payload };
  }

  post(batch: OutgoingBatch): void {
    // A few numbers: the batch itself is in the memory both threads share.
    this.batches.port1.postMessage({ type: 'batch', id: batch.id, slot: batch.slot, count: batch.count, payloadFrom: batch.payloadFrom, payloadTo: batch.payloadFrom + batch.payload.length, final: batch.final });
    this.posted++;
  }

  /** Batches handed over that the thread has not started on yet. */
  get queued(): number {
    return this.posted - Atomics.load(this.shared, 1);
  }

  /** No more batches: the thread ends after the last one it has. */
  end(): void {
    this.batches.port1.postMessage({ type: 'end' });
  }

  /** Stops sending at the next packet (Ctrl-C, a duration reached, a failure). */
  stop(): void {
    Atomics.store(this.shared, 0, 1);
  }

  /** Closes the sockets and ends the thread; replies still in its hands are delivered first. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    this.stop();
    worker.removeAllListeners('exit');
    const closed = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'closed') void worker.terminate();
    });
    worker.postMessage({ type: 'close' });
    await closed;
    this.batches.port1.close();
    this.unpin?.();
    this.unpin = undefined;
  }

  /** Hands the replies in the ring to the handlers, each payload copied out of it. */
  private drainReplies(): void {
    // Until the replay starts nobody takes them: they wait in the ring.
    if (this.handlers === undefined) return;
    const group: ReplyGroup = { device: [], tsNs: [], ip: [], port: [], payloads: [] };
    this.replyRing.drain((reply) => {
      group.device.push(reply.device);
      group.tsNs.push(reply.tsNs);
      group.ip.push(this.addresses.text(reply.ip));
      group.port.push(reply.port);
      group.payloads.push(Buffer.from(reply.payload));
    });
    if (group.device.length > 0) this.handlers?.onReplies(group);
  }

  private handle(message: WorkerMessage): void {
    const handlers = this.handlers;
    if (message.type === 'replies') handlers?.onReplies(message);
    else if (message.type === 'replies-ready') this.drainReplies();
    else if (message.type === 'sent') {
      const actualNs = (this.ring.slots[message.slot] as BatchSlot).actualNs.subarray(message.from, message.to);
      handlers?.onSent(message.id, message.from, actualNs, message.last);
      if (message.last) this.ringSpace.release(message.slot);
    }
    else if (message.type === 'start') handlers?.onStart(message.startNs);
    else if (message.type === 'socket-error') handlers?.onSocketError(message.code);
    else if (message.type === 'done') {
      this.collections = message.collections;
      this.cpuSec = message.cpuSec;
      this.waitedForCpu = message.waitedForCpu;
      this.lateBatches = message.lateBatches;
      this.drainReplies();
      this.finish?.resolve();
    }
    else if (message.type === 'failed') this.finish?.reject(new Error(`replay: the sending thread failed: ${message.message}`));
  }
}

/**
 * The addon the sending thread sends through, or undefined for Node's dgram: the C datagram path where it is built and
 * every address is IPv4, unless PARITY_UDP_IO=dgram asks for dgram (PARITY_UDP_IO=native insists on the C one).
 */
function deviceIo(localIps: readonly string[], relayHost: string): string | undefined {
  const asked = ioChoiceFromEnv();
  if (asked === 'dgram') return undefined;
  const usable = loadUdpIo() !== undefined && isIPv4(relayHost) && localIps.every((ip) => isIPv4(ip));
  if (asked === 'native' && !usable) throw new NetworkError(`PARITY_UDP_IO=native: ${loadUdpIo() === undefined ? udpIoMissing : 'the relay and every device must have IPv4 addresses'}`);
  return usable ? UDP_IO_PATH : undefined;
}
