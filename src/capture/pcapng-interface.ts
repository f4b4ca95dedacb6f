// Option codes from the pcapng specification (draft-ietf-opsawg-pcapng), interface description block.
const OPTION_END = 0;
const OPTION_IF_TSRESOL = 9;
const OPTION_IF_TSOFFSET = 14;
export const DEFAULT_UNITS_PER_SECOND = 1_000_000;
const NS_PER_SECOND = 1_000_000_000;

/** An interface a section describes: its link type, and how its packets' timestamps are to be read. */
export interface InterfaceDescription {
  linkType: number;
  snapLength: number;
  unitsPerSecond: number;
  unitsPerSecondBig: bigint;
  /** Nanoseconds per timestamp unit when that is a whole number (resolutions of 1 ns and coarser powers of ten). */
  nsPerUnit: number | undefined;
  offsetSec: number;
}

/** Reads an interface description block's body: link type, snap length, and the timestamp resolution and offset options. */
export function parseInterface(view: DataView, body: number, bodyEnd: number, le: boolean): InterfaceDescription {
  const description: InterfaceDescription = {
    linkType: view.getUint16(body, le),
    snapLength: view.getUint32(body + 4, le),
    unitsPerSecond: DEFAULT_UNITS_PER_SECOND,
    unitsPerSecondBig: BigInt(DEFAULT_UNITS_PER_SECOND),
    nsPerUnit: NS_PER_SECOND / DEFAULT_UNITS_PER_SECOND,
    offsetSec: 0,
  };
  for (let at = body + 8; at + 4 <= bodyEnd; ) {
    const code = view.getUint16(at, le);
    const length = view.getUint16(at + 2, le);
    if (code === OPTION_END || at + 4 + length > bodyEnd) break;
    if (code === OPTION_IF_TSRESOL && length >= 1) {
      const resolution = view.getUint8(at + 4);
      // The top bit says the exponent is of 2, not 10.
      const exponent = resolution & 0x7f;
      const base = resolution & 0x80 ? 2n : 10n;
      if (exponent <= 62) {
        description.unitsPerSecondBig = base ** BigInt(exponent);
        description.unitsPerSecond = Number(description.unitsPerSecondBig);
        description.nsPerUnit =
          NS_PER_SECOND % description.unitsPerSecond === 0 ? NS_PER_SECOND / description.unitsPerSecond : undefined;
      }
    } else if (code === OPTION_IF_TSOFFSET && length >= 8) {
      description.offsetSec = Number(view.getBigInt64(at + 4, le));
    }
    at += 4 + ((length + 3) & ~3);
  }
  return description;
}

// Interface statistics block options (draft-ietf-opsawg-pcapng, 4.6): counters since the capture started.
const OPTION_ISB_IFDROP = 5;
const OPTION_ISB_OSDROP = 7;

/**
 * What an interface statistics block says its capture dropped: packets the interface had no room for and packets the
 * operating system dropped (dumpcap writes the kernel's count in the first), or null where it gives neither. The
 * counters are running totals, so an interface's last block holds its whole.
 */
export function parseInterfaceDrops(view: DataView, body: number, bodyEnd: number, le: boolean): { interfaceId: number; dropped: number | null } {
  const interfaceId = view.getUint32(body, le);
  let dropped: number | null = null;
  // After the interface id and a 64-bit timestamp.
  for (let at = body + 12; at + 4 <= bodyEnd; ) {
    const code = view.getUint16(at, le);
    const length = view.getUint16(at + 2, le);
    if (code === OPTION_END || at + 4 + length > bodyEnd) break;
    if ((code === OPTION_ISB_IFDROP || code === OPTION_ISB_OSDROP) && length === 8) dropped = (dropped ?? 0) + Number(view.getBigUint64(at + 4, le));
    at += 4 + ((length + 3) & ~3);
  }
  return { interfaceId, dropped };
}
