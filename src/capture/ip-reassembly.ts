/**
 * Reassembles fragmented IPv4 and IPv6 datagrams, keyed by (version, source, destination, identification). Bounded in
 * memory: at most `MAX_PENDING_DATAGRAMS` are held, and a datagram still incomplete `FRAGMENT_TIMEOUT_SEC` after its
 * first fragment (capture time, as RFC 791's reassembly timer) is given up. A datagram given up is not lost silently:
 * its first fragments are handed back, so the caller can keep what they hold (the UDP header and the start of the
 * payload) as a truncated datagram, as Wireshark does.
 */

export const MAX_PENDING_DATAGRAMS = 4096;
export const FRAGMENT_TIMEOUT_SEC = 60;

interface Fragment {
  offset: number;
  bytes: Uint8Array;
  /** Length the IP header declares for this fragment; more than `bytes.length` when the snap length cut it. */
  declaredBytes: number;
}

/** Where a first fragment came from, to rebuild a truncated datagram from it if the rest never arrives. */
export interface FragmentOrigin {
  frameNo: number;
  tsSec: number;
  tsFracNs: number;
  ipVersion: 4 | 6;
  srcIp: string;
  dstIp: string;
}

export interface AbandonedFirstFragment {
  origin: FragmentOrigin;
  protocol: number;
  bytes: Uint8Array;
}

interface PendingDatagram {
  fragments: Fragment[];
  firstFragments: AbandonedFirstFragment[];
  protocol: number;
  totalBytes: number | undefined;
  truncated: boolean;
  firstSeenSec: number;
}

export interface ReassembledDatagram {
  protocol: number;
  payload: Uint8Array;
  /** Some fragment was cut short by the snap length; `payload` is the leading part that was captured. */
  truncated: boolean;
}

export interface FragmentInput {
  key: string;
  protocol: number;
  offset: number;
  bytes: Uint8Array;
  declaredBytes: number;
  more: boolean;
  origin: FragmentOrigin;
}

export class FragmentReassembler {
  private readonly pending = new Map<string, PendingDatagram>();
  /** Fragments of datagrams that never completed (evicted, timed out, or left at the end). */
  abandonedFragments = 0;
  reassembledDatagrams = 0;

  constructor(private readonly onAbandoned: (first: AbandonedFirstFragment) => void) {}

  /** Adds a fragment; returns the whole datagram's payload when this fragment completes it. */
  add({ key, protocol, offset, bytes, declaredBytes, more, origin }: FragmentInput): ReassembledDatagram | undefined {
    let datagram = this.pending.get(key);
    if (datagram === undefined) {
      this.expire(origin.tsSec);
      datagram = {
        fragments: [],
        firstFragments: [],
        protocol,
        totalBytes: undefined,
        truncated: false,
        firstSeenSec: origin.tsSec,
      };
      this.pending.set(key, datagram);
    }
    // Copied: a fragment can wait a long time, and a view would pin a whole read buffer.
    const copy = bytes.slice();
    datagram.fragments.push({ offset, bytes: copy, declaredBytes });
    if (offset === 0) datagram.firstFragments.push({ origin: { ...origin }, protocol, bytes: copy });
    if (bytes.length < declaredBytes) datagram.truncated = true;
    if (!more) datagram.totalBytes = offset + declaredBytes;
    if (offset === 0) datagram.protocol = protocol;
    const whole = assemble(datagram);
    if (whole === undefined) return undefined;
    this.pending.delete(key);
    this.reassembledDatagrams++;
    return whole;
  }

  /** Gives up on everything still pending (end of capture). */
  finish(): void {
    for (const datagram of this.pending.values()) this.abandon(datagram);
    this.pending.clear();
  }

  private abandon(datagram: PendingDatagram): void {
    this.abandonedFragments += datagram.fragments.length;
    for (const first of datagram.firstFragments) this.onAbandoned(first);
  }

  private expire(nowSec: number): void {
    for (const [key, datagram] of this.pending) {
      const stale = nowSec - datagram.firstSeenSec > FRAGMENT_TIMEOUT_SEC;
      if (!stale && this.pending.size < MAX_PENDING_DATAGRAMS) break;
      // Map iteration is insertion order, so the oldest go first.
      this.abandon(datagram);
      this.pending.delete(key);
    }
  }
}

function assemble(datagram: PendingDatagram): ReassembledDatagram | undefined {
  const { totalBytes } = datagram;
  if (totalBytes === undefined) return undefined;
  const fragments = [...datagram.fragments].sort((a, b) => a.offset - b.offset);
  let covered = 0;
  for (const fragment of fragments) {
    if (fragment.offset > covered) return undefined;
    covered = Math.max(covered, fragment.offset + fragment.declaredBytes);
  }
  if (covered < totalBytes) return undefined;
  const payload = new Uint8Array(totalBytes);
  // The captured prefix: bytes up to the first hole left by a fragment the snap length cut.
  let captured = 0;
  for (const fragment of fragments) {
    payload.set(fragment.bytes.subarray(0, Math.max(0, totalBytes - fragment.offset)), fragment.offset);
    if (fragment.offset <= captured) captured = Math.max(captured, fragment.offset + fragment.bytes.length);
  }
  return {
    protocol: datagram.protocol,
    payload: captured < totalBytes ? payload.subarray(0, captured) : payload,
    truncated: datagram.truncated,
  };
}
