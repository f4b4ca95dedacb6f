import { CaptureFileWriter, type CaptureFileWriterOptions } from '../../src/capture/capture-file-writer.ts';
import { buildUdpFrame } from '../../src/capture/frame-builder.ts';

export interface WrittenPacket {
  tsNs: bigint;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  payload: Buffer;
}

export interface FleetCaptureSpec {
  devices: number;
  perDevice: number;
  port?: number;
  format?: CaptureFileWriterOptions['format'];
  startNs?: bigint;
}

/**
 * Writes a small fleet capture: `devices` devices sending `perDevice` uplink packets each to `relayIp:port`, and the
 * relay answering each with an ACK, so the file has both directions as a real relay capture does.
 */
export function writeFleetCapture(
  path: string,
  { devices, perDevice, port = 20500, format = 'pcap', startNs = 1_700_000_000_000_000_000n }: FleetCaptureSpec,
): WrittenPacket[] {
  const writer = new CaptureFileWriter(path, { format });
  const written: WrittenPacket[] = [];
  for (let i = 0; i < perDevice; i++) {
    for (let d = 0; d < devices; d++) {
      const tsNs = startNs + BigInt(i) * 1_000_000_000n + BigInt(d) * 1_000_000n;
      const device = { ip: `10.0.${Math.floor(d / 250)}.${(d % 250) + 1}`, port: 30000 + d };
      const uplink: WrittenPacket = {
        tsNs,
        srcIp: device.ip,
        srcPort: device.port,
        dstIp: '10.255.0.1',
        dstPort: port,
        payload: Buffer.from(`device ${d} report ${i}`),
      };
      const ack: WrittenPacket = {
        tsNs: tsNs + 500_000n,
        srcIp: '10.255.0.1',
        srcPort: port,
        dstIp: device.ip,
        dstPort: device.port,
        payload: Buffer.from(`ack ${d}/${i}`),
      };
      for (const packet of [uplink, ack]) {
        writer.add(packet.tsNs, buildUdpFrame({ ...packet, payload: packet.payload }));
        written.push(packet);
      }
    }
  }
  writer.close();
  return written;
}
