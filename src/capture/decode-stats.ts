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

export function countInto(counts: Record<string, number>, key: number): void {
  const name = String(key);
  counts[name] = (counts[name] ?? 0) + 1;
}
