import type { ChunkAppender } from './chunk-appender.ts';
import type { FlushableWriter, Store } from './store.ts';

/**
 * A table writer that appends through a ChunkAppender and commits at least every `flushIntervalMs` (the bound on what
 * a crash loses), or sooner when the store asks it to (Store.flushStale, from code that knows when it has time).
 */
export abstract class BatchedTableWriter implements FlushableWriter {
  private readonly timer: NodeJS.Timeout;
  private lastFlushMs = Date.now();
  /** A commit the timer could not make: raised by `close` (a throw out of a timer would end the process). */
  private failure: unknown;

  protected constructor(
    private readonly store: Store,
    protected readonly appender: ChunkAppender,
    flushIntervalMs: number,
  ) {
    this.timer = setInterval(() => {
      try {
        this.flushIfStale(flushIntervalMs);
      } catch (error) {
        clearInterval(this.timer);
        this.failure ??= error;
      }
    }, Math.min(flushIntervalMs, 1000));
    this.timer.unref();
    store.registerWriter(this);
  }

  flushIfStale(maxAgeMs: number): void {
    if (Date.now() - this.lastFlushMs >= maxAgeMs) this.flush();
  }

  flush(): void {
    this.lastFlushMs = Date.now();
    this.appender.flush();
  }

  close(): void {
    clearInterval(this.timer);
    this.store.unregisterWriter(this);
    this.appender.close();
    if (this.failure !== undefined) throw this.failure;
  }
}
