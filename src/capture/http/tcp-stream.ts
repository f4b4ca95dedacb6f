/** Out-of-order bytes held for a gap before it is given up on: a capture that lost a segment must not hold the rest. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** What one direction of a TCP connection delivers: its bytes in order, once each. */
export interface StreamSink {
  data(bytes: Uint8Array, tsNs: bigint): void;
  /** Bytes are missing here (a segment the capture never had): what follows cannot be read as a continuation. */
  gap(): void;
}

/**
 * One direction of a TCP connection, put back in order: retransmitted bytes are delivered once, segments that came
 * early wait for the ones before them, and a hole that is never filled (the capture lost a segment) is reported as a
 * gap once the bytes waiting behind it pass 4 MB or the stream ends. Sequence numbers are compared modulo 2^32.
 */
export class TcpStream {
  private next: number | undefined;
  private readonly pending = new Map<number, { bytes: Uint8Array; tsNs: bigint }>();
  private pendingBytes = 0;
  gaps = 0;

  constructor(private readonly sink: StreamSink) {}

  syn(seq: number): void {
    this.next ??= (seq + 1) >>> 0;
  }

  add(seq: number, payload: Uint8Array, tsNs: bigint): void {
    if (payload.length === 0) return;
    this.next ??= seq;
    const ahead = (seq - this.next) | 0;
    if (ahead > 0) {
      this.hold(seq, payload, tsNs);
      return;
    }
    // At or before the next byte: a retransmission, whole or in part; only the new bytes count.
    if (ahead + payload.length <= 0) return;
    this.deliver(payload.subarray(-ahead), tsNs);
    this.drain();
  }

  /** The connection ended: bytes still waiting behind a hole are lost to it. */
  end(): void {
    if (this.pending.size === 0) return;
    this.skipToPending();
    this.drain();
    while (this.pending.size > 0) {
      this.skipToPending();
      this.drain();
    }
  }

  private hold(seq: number, payload: Uint8Array, tsNs: bigint): void {
    const held = this.pending.get(seq);
    if (held !== undefined && held.bytes.length >= payload.length) return;
    this.pendingBytes += payload.length - (held?.bytes.length ?? 0);
    this.pending.set(seq, { bytes: payload, tsNs });
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      this.skipToPending();
      this.drain();
    }
  }

  private deliver(bytes: Uint8Array, tsNs: bigint): void {
    this.sink.data(bytes, tsNs);
    this.next = ((this.next as number) + bytes.length) >>> 0;
  }

  /** Delivers what waited and now follows on. */
  private drain(): void {
    for (let progressed = true; progressed && this.pending.size > 0; ) {
      progressed = false;
      for (const [seq, held] of this.pending) {
        const ahead = (seq - (this.next as number)) | 0;
        if (ahead > 0) continue;
        this.pending.delete(seq);
        this.pendingBytes -= held.bytes.length;
        if (ahead + held.bytes.length > 0) this.deliver(held.bytes.subarray(-ahead), held.tsNs);
        progressed = true;
      }
    }
  }

  /** Gives up on the hole before the earliest waiting segment. */
  private skipToPending(): void {
    let earliest: number | undefined;
    for (const seq of this.pending.keys()) if (earliest === undefined || ((seq - earliest) | 0) < 0) earliest = seq;
    if (earliest === undefined) return;
    this.gaps++;
    this.sink.gap();
    this.next = earliest;
  }
}
