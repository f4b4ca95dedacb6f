/** A UDP datagram found in a capture. Decoders reuse one instance; a handler copies what it keeps. */
export interface UdpDatagram {
  /** Frame that carried (or, for a reassembled datagram, completed) it. */
  frameNo: number;
  tsSec: number;
  tsFracNs: number;
  ipVersion: 4 | 6;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /**
   * Captured payload bytes: a view into the reader's buffer, valid during the handler's call only where the reader
   * reuses its buffers (an import): copy what is kept.
   */
  payload: Uint8Array;
  /** Payload length the UDP header declares. */
  wireBytes: number;
  /** The snap length (or a cut-short IP packet) left out part of the payload. */
  truncated: boolean;
}

export type DatagramHandler = (datagram: UdpDatagram) => void;

export function createUdpDatagram(): UdpDatagram {
  return {
    frameNo: 0,
    tsSec: 0,
    tsFracNs: 0,
    ipVersion: 4,
    srcIp: '',
    srcPort: 0,
    dstIp: '',
    dstPort: 0,
    payload: new Uint8Array(0),
    wireBytes: 0,
    truncated: false,
  };
}
