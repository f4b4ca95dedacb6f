/**
 * Wraps an async iterator so that up to `depth` items are fetched ahead of the consumer. The replayer's capture
 * stream is a DuckDB query: a fetch that had to wait (a sort, a new loop's query) would otherwise leave the sending
 * thread without batches and make every packet behind it late.
 */
export class ReadAhead<T> {
  private readonly buffer: Promise<IteratorResult<T>>[] = [];
  private done = false;

  constructor(
    private readonly source: AsyncIterator<T>,
    private readonly depth: number,
  ) {
    this.fill();
  }

  /** The next item, or undefined at the end. */
  async next(): Promise<T | undefined> {
    const head = this.buffer.shift();
    if (head === undefined) return undefined;
    const result = await head;
    this.fill();
    return result.done === true ? undefined : result.value;
  }

  /** Resolves once the read-ahead is full (or the source ended): a clock started after it is not raced by fetches. */
  async primed(): Promise<void> {
    await Promise.allSettled(this.buffer);
  }

  /** Stops reading; the source's own cleanup (closing the query) runs. */
  async close(): Promise<void> {
    this.done = true;
    await Promise.allSettled(this.buffer);
    this.buffer.length = 0;
    await this.source.return?.();
  }

  private fill(): void {
    while (!this.done && this.buffer.length < this.depth) {
      // Fetches are chained: the source is a generator and must not be advanced twice at once.
      const previous = this.buffer.at(-1) ?? Promise.resolve({ done: false, value: undefined } as IteratorResult<T>);
      const next = previous.then((result) => (result.done === true ? result : this.source.next()));
      next.then((result) => {
        if (result.done === true) this.done = true;
      }, () => undefined);
      this.buffer.push(next);
    }
  }
}
