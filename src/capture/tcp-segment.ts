/** A TCP segment found in a capture. Decoders reuse one instance; a handler copies what it keeps. */
export interface TcpSegment {
  frameNo: number;
  tsSec: number;
  tsFracNs: number;
  ipVersion: 4 | 6;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /** Sequence number of the first payload byte (of the SYN itself on a SYN). */
  seq: number;
  /** TCP flags (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10). */
  flags: number;
  /** Captured payload bytes: a view valid for as long as it is held. */
  payload: Uint8Array;
  /** The snap length (or a cut-short IP packet) left out part of the payload. */
  truncated: boolean;
}

export const TcpFlag = { Fin: 0x01, Syn: 0x02, Rst: 0x04, Ack: 0x10 } as const;

export type TcpSegmentHandler = (segment: TcpSegment) => void;

export function createTcpSegment(): TcpSegment {
  return { frameNo: 0, tsSec: 0, tsFracNs: 0, ipVersion: 4, srcIp: '', srcPort: 0, dstIp: '', dstPort: 0, seq: 0, flags: 0, payload: new Uint8Array(0), truncated: false };
}
