/**
 * Between the traffic and the store: packets are queued as they pass and written in slices of at most
 * `SLICE_BUDGET_MS`, yielding between slices, so a slow store never stalls forwarding. The queue is bounded: when full,
 * a packet is counted as unrecorded instead of being waited for. Between slices it waits for the store to have room
 * (`ready`: DuckDB's threads store what was written, and a writer that outran them would hold it all in memory); what
 * arrives meanwhile waits here, within the bound.
 */
export const RECORD_QUEUE_LIMIT = 200_000;
const SLICE_BUDGET_MS = 2;

export class RecordQueue<T> {
  private readonly items: T[] = [];
  private head = 0;
  private draining = false;
  private idle: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private failure: unknown;
  recorded = 0;
  unrecorded = 0;

  constructor(
    private readonly write: (item: T) => void,
    private readonly limit = RECORD_QUEUE_LIMIT,
    private readonly storeReady: () => Promise<void> = () => Promise.resolve(),
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.length >= this.limit || this.failure !== undefined) {
      this.unrecorded++;
      return;
    }
    this.items.push(item);
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  /** Resolves when everything queued so far is written; rejects with the store's failure, if it failed. */
  flushed(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.length === 0 && !this.draining) return Promise.resolve();
    return new Promise((resolve, reject) => this.idle.push({ resolve, reject }));
  }

  private drain(): void {
    const deadline = performance.now() + SLICE_BUDGET_MS;
    while (this.head < this.items.length && performance.now() < deadline) {
      this.write(this.items[this.head] as T);
      this.items[this.head] = undefined as T;
      this.head++;
      this.recorded++;
    }
    if (this.head > 65_536 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    if (this.head < this.items.length) {
      this.storeReady().then(
        () => setImmediate(() => this.drain()),
        (error: unknown) => this.fail(error),
      );
      return;
    }
    this.draining = false;
    for (const { resolve } of this.idle.splice(0)) resolve();
  }

  /** The store stopped: what is queued can never be written, and counts as unrecorded. */
  private fail(error: unknown): void {
    this.failure = error;
    this.unrecorded += this.length;
    this.items.length = 0;
    this.head = 0;
    this.draining = false;
    for (const { reject } of this.idle.splice(0)) reject(error);
  }
}
