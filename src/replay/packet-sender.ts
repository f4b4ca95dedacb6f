import { LatencyHistogram } from '../core/latency-histogram.ts';
import type { DeviceProtocol } from '../protocols/protocol.ts';
import type { SendRecord, SendWriter } from '../store/send-writer.ts';
import type { DeviceFleet } from './device-fleet.ts';
import { nowNs } from './pacer.ts';
import type { UplinkChunk } from './uplink-source.ts';

/**
 * Sends one captured packet from its device's socket to the relay and records the send: when it left, how late it
 * was against its schedule, what it was. One record, reused: the writer copies it at once, and nothing is allocated
 * per packet for it.
 */
export class PacketSender {
  sent = 0;
  firstSendNs = 0;
  readonly lateness = new LatencyHistogram();
  private readonly record: SendRecord = {
    sendNo: 0, captureIdx: 0, loop: 0, device: '', localIp: '', localPort: 0, routePort: 0, relayPort: 0, scheduledNs: 0,
    actualNs: 0, payloadHash: 0, payloadBytes: 0, kind: '', wantsAck: false, matchKey: undefined, deviceId: undefined, error: undefined,
  };

  constructor(
    private readonly fleet: DeviceFleet,
    private readonly protocol: DeviceProtocol,
    private readonly sends: SendWriter,
    private readonly relay: { host: string; portMap: ReadonlyMap<number, number> },
  ) {}

  /** `scheduledNs` NaN: the plan has no schedule (as fast as possible), so the packet is never late. */
  send(chunk: UplinkChunk, row: number, loop: number, scheduledNs: number): void {
    const original = chunk.device(row);
    const device = this.fleet.get(original);
    if (device === undefined) return;
    const payload = chunk.payloads[row] as Uint8Array;
    const routePort = chunk.routePort[row] as number;
    const relayPort = this.relay.portMap.get(routePort) ?? routePort;
    const message = this.protocol.decode(payload);
    if (message.wantsAck) device.awaitingAcks++;
    const actualNs = nowNs();
    if (this.firstSendNs === 0) this.firstSendNs = actualNs;
    const scheduled = Number.isNaN(scheduledNs) ? actualNs : scheduledNs;
    this.lateness.record(actualNs - scheduled);
    // No callback: a failed send surfaces as the socket's 'error' event, counted by the fleet.
    device.socket.send(payload, relayPort, this.relay.host);
    const record = this.record;
    record.sendNo = this.sent++;
    record.captureIdx = chunk.idx[row] as number;
    record.loop = loop;
    record.device = original;
    record.localIp = device.localIp;
    record.localPort = device.localPort;
    record.routePort = routePort;
    record.relayPort = relayPort;
    record.scheduledNs = Math.round(scheduled);
    record.actualNs = Math.round(actualNs);
    record.payloadHash = chunk.payloadHash[row] as number;
    record.payloadBytes = payload.length;
    record.kind = message.kind;
    record.wantsAck = message.wantsAck;
    record.matchKey = message.matchKey;
    record.deviceId = message.deviceId;
    this.sends.add(record);
  }
}
