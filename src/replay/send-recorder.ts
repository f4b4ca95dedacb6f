import { LatencyHistogram } from '../core/latency-histogram.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { SendRecord, SendWriter } from '../store/send-writer.ts';
import type { DeviceFleet, ReplayDevice } from './device-fleet.ts';
import type { OutgoingBatch } from './send-thread.ts';
import type { UplinkChunk } from './uplink-source.ts';

/** What the main thread keeps of a batch it handed over, to record each send when the thread says it left. */
interface PendingBatch {
  offsetNs: number[];
  captureIdx: number[];
  loop: number[];
  device: ReplayDevice[];
  routePort: number[];
  relayPort: number[];
  payloadHash: number[];
  payloadBytes: number[];
  kind: string[];
  wantsAck: boolean[];
  matchKey: (string | undefined)[];
  deviceId: (string | undefined)[];
  /** Packets reported sent so far. */
  sentUpTo: number;
}

const emptyPending = (): PendingBatch => ({ offsetNs: [], captureIdx: [], loop: [], device: [], routePort: [], relayPort: [], payloadHash: [], payloadBytes: [], kind: [], wantsAck: [], matchKey: [], deviceId: [], sentUpTo: 0 });

/**
 * Builds the batches the sending thread sends (each packet decoded here, off the timed path) and records every send
 * once the thread reports when it left: the `sends` row, and its lateness against its schedule.
 */
export class SendRecorder {
  sent = 0;
  firstSendNs = 0;
  readonly lateness = new LatencyHistogram();
  private readonly pending = new Map<number, PendingBatch>();
  private nextId = 0;
  private current = emptyPending();
  private payloads: Uint8Array[] = [];
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
    return this.current.offsetNs.length;
  }

  /** Adds a packet to the batch being built; `offsetNs` NaN: send as soon as possible. */
  add(chunk: UplinkChunk, row: number, loop: number, offsetNs: number): void {
    const device = this.fleet.get(chunk.device(row));
    if (device === undefined) return;
    const payload = chunk.payloads[row] as Uint8Array;
    const routePort = chunk.routePort[row] as number;
    const message = this.protocol.decode(payload);
    if (message.wantsAck) device.awaitingAcks++;
    const b = this.current;
    b.offsetNs.push(offsetNs);
    b.captureIdx.push(chunk.idx[row] as number);
    b.loop.push(loop);
    b.device.push(device);
    b.routePort.push(routePort);
    b.relayPort.push(this.portMap.get(routePort) ?? routePort);
    b.payloadHash.push(chunk.payloadHash[row] as number);
    b.payloadBytes.push(payload.length);
    b.kind.push(message.kind);
    b.wantsAck.push(message.wantsAck);
    b.matchKey.push(message.matchKey);
    b.deviceId.push(message.deviceId);
    this.payloads.push(payload);
  }

  /** The batch built so far, for the sending thread; the recorder keeps what it needs to record its sends. */
  take(final: boolean): OutgoingBatch {
    const b = this.current;
    const count = b.offsetNs.length;
    const payloadEnd = new Uint32Array(count);
    let bytes = 0;
    for (let i = 0; i < count; i++) payloadEnd[i] = bytes += (this.payloads[i] as Uint8Array).length;
    const payload = new Uint8Array(bytes);
    for (let i = 0; i < count; i++) payload.set(this.payloads[i] as Uint8Array, i === 0 ? 0 : (payloadEnd[i - 1] as number));
    const id = this.nextId++;
    this.pending.set(id, b);
    this.current = emptyPending();
    this.payloads = [];
    return {
      id,
      count,
      offsetNs: Float64Array.from(b.offsetNs),
      device: Uint32Array.from(b.device, (d) => d.index),
      relayPort: Uint16Array.from(b.relayPort),
      payload,
      payloadEnd,
      final,
    };
  }

  /**
   * Records the sends the thread reports: packets `from`.. of batch `id`. With the batch's last report, packets past
   * those were never sent (the replay stopped).
   */
  recordSent(id: number, from: number, actualNs: Float64Array, last: boolean, startNs: number): void {
    const b = this.pending.get(id);
    if (b === undefined) return;
    if (last) this.pending.delete(id);
    const record = this.record;
    const end = from + actualNs.length;
    b.sentUpTo = end;
    for (let i = from; i < end; i++) {
      const actual = actualNs[i - from] as number;
      const offset = b.offsetNs[i] as number;
      const scheduled = Number.isNaN(offset) ? actual : startNs + offset;
      if (this.firstSendNs === 0) this.firstSendNs = actual;
      this.lateness.record(actual - scheduled);
      const device = b.device[i] as ReplayDevice;
      record.sendNo = this.sent++;
      record.captureIdx = b.captureIdx[i] as number;
      record.loop = b.loop[i] as number;
      record.device = device.original;
      record.localIp = device.localIp;
      record.localPort = device.localPort;
      record.routePort = b.routePort[i] as number;
      record.relayPort = b.relayPort[i] as number;
      record.scheduledNs = Math.round(scheduled);
      record.actualNs = Math.round(actual);
      record.payloadHash = b.payloadHash[i] as number;
      record.payloadBytes = b.payloadBytes[i] as number;
      record.kind = b.kind[i] as string;
      record.wantsAck = b.wantsAck[i] as boolean;
      record.matchKey = b.matchKey[i];
      record.deviceId = b.deviceId[i];
      this.sends.add(record);
    }
    // A request never sent is owed no ACK.
    if (last) for (let i = end; i < b.offsetNs.length; i++) if (b.wantsAck[i] === true) (b.device[i] as ReplayDevice).awaitingAcks--;
  }

  /** Batches handed over but never reported (the thread stopped first): their requests are owed no ACK either. */
  abandonPending(): void {
    // Reported in part, or not at all: what was reported is recorded, the rest was never sent.
    for (const [id, b] of this.pending) {
      this.pending.delete(id);
      for (let i = 0; i < b.offsetNs.length; i++) if (b.wantsAck[i] === true && b.sentUpTo <= i) (b.device[i] as ReplayDevice).awaitingAcks--;
    }
  }
}
