import { LatencyHistogram } from '../core/latency-histogram.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { SendRecord, SendWriter } from '../store/send-writer.ts';
import { oweAck, settleAck, type DeviceFleet } from './device-fleet.ts';
import { RING_SLOTS, type OutgoingBatch } from './send-thread.ts';
import { SLOT_PACKETS } from './batch-ring.js';
import type { UplinkChunk } from './uplink-source.ts';

/**
 * A packet's numbers, for the batch being built (SLOT_PACKETS of each) or for every slot of the ring (RING_SLOTS times
 * that, a slot's packets at slot * SLOT_PACKETS): typed arrays made once, so that the 3 s of packets the main thread
 * keeps ahead of the sending thread are no objects for V8 to copy. Kept as objects (arrays of numbers, strings and
 * device references per packet), they were promoted at every scavenge of the main thread: 40-70 ms each, three times
 * a second at 50k pps (docs/performance.md).
 */
class PacketColumns {
  readonly offsetNs: Float64Array;
  readonly captureIdx: Float64Array;
  readonly loop: Uint32Array;
  readonly device: Uint32Array;
  readonly routePort: Uint16Array;
  readonly relayPort: Uint16Array;
  readonly payloadHash: Float64Array;
  readonly wantsAck: Uint8Array;

  constructor(packets: number) {
    this.offsetNs = new Float64Array(packets);
    this.captureIdx = new Float64Array(packets);
    this.loop = new Uint32Array(packets);
    this.device = new Uint32Array(packets);
    this.routePort = new Uint16Array(packets);
    this.relayPort = new Uint16Array(packets);
    this.payloadHash = new Float64Array(packets);
    this.wantsAck = new Uint8Array(packets);
  }

  /** Copies `count` packets from `from` (at 0) to this at `at`. */
  copy(from: PacketColumns, count: number, at: number): void {
    this.offsetNs.set(from.offsetNs.subarray(0, count), at);
    this.captureIdx.set(from.captureIdx.subarray(0, count), at);
    this.loop.set(from.loop.subarray(0, count), at);
    this.device.set(from.device.subarray(0, count), at);
    this.routePort.set(from.routePort.subarray(0, count), at);
    this.relayPort.set(from.relayPort.subarray(0, count), at);
    this.payloadHash.set(from.payloadHash.subarray(0, count), at);
    this.wantsAck.set(from.wantsAck.subarray(0, count), at);
  }
}

/**
 * Builds the batches the sending thread sends (each packet decoded here, off the timed path) and records every send
 * once the thread reports when it left: the `sends` row, and its lateness against its schedule.
 */
export class SendRecorder {
  sent = 0;
  firstSendNs = 0;
  readonly lateness = new LatencyHistogram();
  /** The batch being built. */
  private readonly current = new PacketColumns(SLOT_PACKETS);
  private count = 0;
  private bytes = 0;
  private readonly payloads: Uint8Array[] = [];
  /** Batches handed over, by their slot in the ring: their packets' numbers here, their payloads in the ring. */
  private readonly pending = new PacketColumns(RING_SLOTS * SLOT_PACKETS);
  private readonly pendingBatches = new Map<number, { batch: OutgoingBatch; sentUpTo: number }>();
  private nextId = 0;
  /** One record, reused: the writer copies it at once. */
  private readonly record: SendRecord = {
    sendNo: 0, captureIdx: 0, loop: 0, device: '', localIp: '', localPort: 0, routePort: 0, relayPort: 0, scheduledNs: 0,
    actualNs: 0, payloadHash: 0, payloadBytes: 0, kind: '', wantsAck: false, matchKey: undefined, deviceId: undefined, error: undefined,
  };

  constructor(
    private readonly fleet: DeviceFleet,
    private readonly protocol: DeviceProtocol,
    private readonly sends: SendWriter,
    private readonly portMap: ReadonlyMap<number, number>,
  ) {}

  get queued(): number {
    return this.count;
  }

  /** Payload bytes of the batch being built. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Adds a packet to the batch being built (at most SLOT_PACKETS); `offsetNs` NaN: send as soon as possible. */
  add(chunk: UplinkChunk, row: number, loop: number, offsetNs: number): void {
    const device = this.fleet.get(chunk.device(row));
    if (device === undefined) return;
    const payload = chunk.payloads[row] as Uint8Array;
    const routePort = chunk.routePort[row] as number;
    // Only whether it wants an ACK is kept: its kind and keys are decoded again when it is recorded, so that no string
    // made here lives until then, but for the match key of an ACK owed, until it is answered. Owed now, before it
    // leaves: its answer may be read before the thread reports the send.
    const message = this.protocol.decode(payload);
    const wantsAck = message.wantsAck;
    if (wantsAck) oweAck(device, message.matchKey);
    const c = this.current;
    const i = this.count++;
    c.offsetNs[i] = offsetNs;
    c.captureIdx[i] = chunk.idx[row] as number;
    c.loop[i] = loop;
    c.device[i] = device.index;
    c.routePort[i] = routePort;
    c.relayPort[i] = this.portMap.get(routePort) ?? routePort;
    c.payloadHash[i] = chunk.payloadHash[row] as number;
    c.wantsAck[i] = wantsAck ? 1 : 0;
    this.payloads.push(payload);
    this.bytes += payload.length;
  }

  /**
   * The batch built so far, written into the sending thread's ring for it to send; the recorder keeps what it needs to
   * record its sends. Undefined while the ring has no room for it (the thread gives room back as it reports sends).
   */
  take(final: boolean): OutgoingBatch | undefined {
    const count = this.count;
    const batch = this.fleet.thread.claim(this.nextId, count, this.bytes, final);
    if (batch === undefined) return undefined;
    const c = this.current;
    let end = 0;
    for (let i = 0; i < count; i++) {
      const payload = this.payloads[i] as Uint8Array;
      batch.payload.set(payload, end);
      batch.payloadEnd[i] = end += payload.length;
    }
    batch.offsetNs.set(c.offsetNs.subarray(0, count));
    batch.device.set(c.device.subarray(0, count));
    batch.relayPort.set(c.relayPort.subarray(0, count));
    this.pending.copy(c, count, batch.slot * SLOT_PACKETS);
    this.pendingBatches.set(batch.id, { batch, sentUpTo: 0 });
    this.nextId++;
    this.count = 0;
    this.bytes = 0;
    this.payloads.length = 0;
    return batch;
  }

  /**
   * Records the sends the thread reports: packets `from`.. of batch `id`. With the batch's last report, packets past
   * those were never sent (the replay stopped).
   */
  recordSent(id: number, from: number, actualNs: Float64Array, last: boolean, startNs: number): void {
    const held = this.pendingBatches.get(id);
    if (held === undefined) return;
    if (last) this.pendingBatches.delete(id);
    const { batch } = held;
    const p = this.pending;
    const base = batch.slot * SLOT_PACKETS;
    const record = this.record;
    const end = from + actualNs.length;
    held.sentUpTo = end;
    for (let i = from; i < end; i++) {
      const at = base + i;
      const actual = actualNs[i - from] as number;
      const offset = p.offsetNs[at] as number;
      const scheduled = Number.isNaN(offset) ? actual : startNs + offset;
      if (this.firstSendNs === 0) this.firstSendNs = actual;
      this.lateness.record(actual - scheduled);
      const device = this.fleet.device(p.device[at] as number);
      const payloadFrom = i === 0 ? 0 : (batch.payloadEnd[i - 1] as number);
      const payloadTo = batch.payloadEnd[i] as number;
      const message = this.protocol.decode(batch.payload.subarray(payloadFrom, payloadTo));
      record.sendNo = this.sent++;
      record.captureIdx = p.captureIdx[at] as number;
      record.loop = p.loop[at] as number;
      record.device = device.original;
      record.localIp = device.localIp;
      record.localPort = device.localPort;
      record.routePort = p.routePort[at] as number;
      record.relayPort = p.relayPort[at] as number;
      record.scheduledNs = Math.round(scheduled);
      record.actualNs = Math.round(actual);
      record.payloadHash = p.payloadHash[at] as number;
      record.payloadBytes = payloadTo - payloadFrom;
      record.kind = message.kind;
      record.wantsAck = p.wantsAck[at] === 1;
      record.matchKey = message.matchKey;
      record.deviceId = message.deviceId;
      this.sends.add(record);
    }
    // A request never sent is owed no ACK.
    if (last) this.forgetUnsent(batch, end);
  }

  /** Batches handed over but never reported (the thread stopped first): their requests are owed no ACK either. */
  abandonPending(): void {
    // Reported in part, or not at all: what was reported is recorded, the rest was never sent.
    for (const [id, { batch, sentUpTo }] of this.pendingBatches) {
      this.pendingBatches.delete(id);
      this.forgetUnsent(batch, sentUpTo);
    }
  }

  /** The batch's packets from `sent` on never left: the ACKs they wanted are owed no more. */
  private forgetUnsent(batch: OutgoingBatch, sent: number): void {
    const base = batch.slot * SLOT_PACKETS;
    for (let i = sent; i < batch.count; i++) {
      if (this.pending.wantsAck[base + i] !== 1) continue;
      const payload = batch.payload.subarray(i === 0 ? 0 : (batch.payloadEnd[i - 1] as number), batch.payloadEnd[i] as number);
      settleAck(this.fleet.device(this.pending.device[base + i] as number), this.protocol.decode(payload).matchKey);
    }
  }
}
