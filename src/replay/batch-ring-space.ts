/** A batch in the ring: its slot, its payload bytes [from, to), and whether the thread is done with it. */
interface HeldBatch {
  slot: number;
  from: number;
  to: number;
  released: boolean;
}

/**
 * The main thread's account of the shared batch ring (batch-ring.js): which slots are free, and where the next batch's
 * payload bytes go. Batches are sent in the order they are handed over, so the payload region is used as a queue:
 * the next batch goes after the newest, or back at the start when it does not fit before the end, and space comes
 * back from the oldest batch still held.
 */
export class BatchRingSpace {
  private readonly freeSlots: number[];
  /** Batches handed over and not yet given back, oldest first. */
  private readonly held: HeldBatch[] = [];
  private readonly heldBySlot = new Map<number, HeldBatch>();

  constructor(
    slots: number,
    private readonly payloadBytes: number,
  ) {
    this.freeSlots = Array.from({ length: slots }, (_, slot) => slots - 1 - slot);
  }

  /** Where a batch of `bytes` payload bytes would go now, or undefined while there is no room for it. */
  private payloadAt(bytes: number): number | undefined {
    const oldest = this.held[0];
    const newest = this.held[this.held.length - 1];
    if (oldest === undefined || newest === undefined) return bytes <= this.payloadBytes ? 0 : undefined;
    const head = newest.to;
    // Since the newest batch went back to the start, the free space is the gap up to the oldest.
    if (newest.from < oldest.from) return oldest.from - head >= bytes ? head : undefined;
    if (this.payloadBytes - head >= bytes) return head;
    return oldest.from >= bytes ? 0 : undefined;
  }

  /** Takes a slot and `bytes` of payload space; undefined while there is no room (no slot free, or no gap that large). */
  claim(bytes: number): { slot: number; payloadFrom: number } | undefined {
    const from = this.payloadAt(bytes);
    if (from === undefined) return undefined;
    const slot = this.freeSlots.pop();
    if (slot === undefined) return undefined;
    const held = { slot, from, to: from + bytes, released: false };
    this.held.push(held);
    this.heldBySlot.set(slot, held);
    return { slot, payloadFrom: from };
  }

  /** The sending thread is done with the batch in `slot`: its slot, and its payload space once older ones are back. */
  release(slot: number): void {
    const held = this.heldBySlot.get(slot);
    if (held === undefined) return;
    this.heldBySlot.delete(slot);
    held.released = true;
    this.freeSlots.push(slot);
    while (this.held[0]?.released === true) this.held.shift();
  }

  /** Batches handed over and not given back yet. */
  get heldCount(): number {
    return this.heldBySlot.size;
  }
}
