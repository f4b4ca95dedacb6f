/**
 * The sequence numbers a stream has delivered, for telling a duplicate from a first arrival in memory that grows with
 * how far out of order frames come, not with the stream's length: one contiguous range [low, high) and the numbers
 * seen outside it. A Set of every number grew by doubling, and at each doubling V8 copied the whole table on the
 * gateway's thread: at 10k frames/s over 8 streams the 16 Sets of two in-process gateways crossed 32,768 entries
 * together and held the replay that shares the thread for 65-88 ms.
 */
export class SeenSequence {
  private low = 0;
  private high = 0;
  private readonly outside = new Set<number>();

  has(seq: number): boolean {
    return (seq >= this.low && seq < this.high) || this.outside.has(seq);
  }

  add(seq: number): void {
    if (this.low === this.high) {
      this.low = seq;
      this.high = seq + 1;
    } else if (seq === this.high) {
      this.high++;
    } else if (seq === this.low - 1) {
      this.low--;
    } else if (!this.has(seq)) {
      this.outside.add(seq);
      return;
    } else {
      return;
    }
    // The range grew: numbers seen earlier beyond it may now join it.
    while (this.outside.delete(this.high)) this.high++;
    while (this.outside.delete(this.low - 1)) this.low--;
  }

  /** Numbers kept one by one (those out of order beyond the contiguous range). */
  get outsideCount(): number {
    return this.outside.size;
  }
}
