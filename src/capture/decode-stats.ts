/** What decoding a capture found, frame by frame: every frame is counted in exactly one of the outcome fields. */
export interface DecodeStats {
  frames: number;
  /** Frames per link type, as `linkType -> frames`. */
  framesByLinkType: Record<string, number>;
  /** Frames whose link type is not decoded, per link type. */
  unsupportedByLinkType: Record<string, number>;
  /** UDP datagrams found (before any port filter). */
  udpDatagrams: number;
  /** UDP datagrams kept after the port filter. */
  keptDatagrams: number;
  /** Datagrams whose payload the snap length (or a short IP packet) cut. */
  truncatedDatagrams: number;
  /** UDP headers whose length field is impossible (under 8): the payload runs to the end of the IP packet. */
  malformedUdp: number;
  /** Frames of supported link types that carry no UDP (TCP, ICMP, ARP, ...), or whose headers are too short. */
  nonUdpFrames: number;
  /** Frames of unsupported link types. */
  unsupportedFrames: number;
  /** Frames that were one fragment of an IP datagram (the datagram is counted once, when complete). */
  fragmentFrames: number;
  reassembledDatagrams: number;
  /** Fragments of datagrams that never completed. */
  abandonedFragments: number;
  /**
   * Packets the capture itself dropped before writing them, as the files' interface statistics say (pcapng, written by
   * dumpcap, tshark or Wireshark); absent where no file says.
   */
  captureDrops?: number;
  /** HTTP/1.x read out of TCP (the HTTP family): exchanges kept, connections damaged and why. */
  http?: { connections: number; exchanges: number; damaged: number; faults: string[] };
  /** WebSocket sessions read out of TCP (the WebSocket family): frames kept, acks and binary messages counted, damage. */
  ws?: { sessions: number; frames: number; serverMessages: number; binaryMessages: number; damaged: number; faults: string[] };
  /** PostgreSQL sessions read out of TCP (the Postgres family): statements kept, TLS sessions unreadable, damage. */
  pg?: { sessions: number; statements: number; tlsSessions: number; damaged: number; faults: string[] };
}

export function createDecodeStats(): DecodeStats {
  return {
    frames: 0,
    framesByLinkType: {},
    unsupportedByLinkType: {},
    udpDatagrams: 0,
    keptDatagrams: 0,
    truncatedDatagrams: 0,
    malformedUdp: 0,
    nonUdpFrames: 0,
    unsupportedFrames: 0,
    fragmentFrames: 0,
    reassembledDatagrams: 0,
    abandonedFragments: 0,
  };
}

/**
 * Counts frames per link type. Nearly every capture has one link type, so the count runs in a plain number and is
 * moved into the record only when the link type changes or the counts are read.
 */
export class LinkTypeCounter {
  private current = Number.NaN;
  private run = 0;
  private readonly counts: Record<string, number> = {};

  add(linkType: number): void {
    if (linkType !== this.current) {
      this.settle();
      this.current = linkType;
    }
    this.run++;
  }

  toRecord(): Record<string, number> {
    this.settle();
    return { ...this.counts };
  }

  private settle(): void {
    if (this.run === 0) return;
    const name = String(this.current);
    this.counts[name] = (this.counts[name] ?? 0) + this.run;
    this.run = 0;
  }
}

export function countInto(counts: Record<string, number>, key: number): void {
  const name = String(key);
  counts[name] = (counts[name] ?? 0) + 1;
}
