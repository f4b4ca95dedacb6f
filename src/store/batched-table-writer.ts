import { openChunkAppender, type ChunkAppender, type ColumnKind } from './chunk-appender.ts';
import { CommitClock } from './commit-clock.ts';
import type { FlushableWriter, Store } from './store.ts';

/** When a batching writer commits, besides when it is closed. */
export interface CommitPolicy {
  /** At least this often: the bound, in time, on what a crash loses. */
  flushIntervalMs?: number;
  /**
   * Also at each whole row group of rows (ROW_GROUP_ROWS, through a feed): DuckDB then writes them compressed, once,
   * instead of logging them first. For a writer whose rows may be committed in any slices (not one that must commit a
   * batch whole).
   */
  rowGroupCommits?: boolean;
}

/**
 * A table writer that appends through a ChunkAppender and commits at least every `flushIntervalMs` (the bound on what
 * a crash loses), at each row group where asked, or sooner when the store asks it to (Store.flushStale, from code
 * that knows when it has time).
 */
export abstract class BatchedTableWriter implements FlushableWriter {
  private readonly clock: CommitClock;

  protected constructor(
    private readonly store: Store,
    protected readonly appender: ChunkAppender,
    flushIntervalMs: number,
    rowGroupCommits = false,
  ) {
    this.clock = new CommitClock(flushIntervalMs, Math.min(flushIntervalMs, 1000), (maxAgeMs) => this.flushIfStale(maxAgeMs));
    if (rowGroupCommits) appender.onRowGroup = () => this.flush();
    store.registerWriter(this);
  }

  /** Rows committed so far (what a writer killed now leaves). */
  get committed(): number {
    return this.appender.committed;
  }

  flushIfStale(maxAgeMs: number): void {
    if (this.clock.isStale(maxAgeMs)) this.flush();
  }

  flush(): void {
    this.clock.committed();
    this.appender.flush();
  }

  /** Resolves when a feed's DuckDB has caught up enough for more rows (at once for an appender); rejects with its failure. */
  async ready(): Promise<void> {
    await this.appender.ready();
  }

  /** Commits what is left and closes (a feed's close waits for DuckDB to store it all). */
  async finish(): Promise<void> {
    const failure = this.clock.stop();
    this.store.unregisterWriter(this);
    await this.appender.finish();
    if (failure !== undefined) throw failure;
  }
}

/**
 * Rows of any table through a feed (DuckDB stores them on its own threads), committed at least every `flushIntervalMs`:
 * for a writer that fills its columns itself. A main thread that records what sending threads report also hosts
 * in-process relays and backends; an appender's flush (DuckDB's own, at 204,800 rows) held it 70 ms, and an appender
 * committed nothing before it was closed.
 */
export class FeedTableWriter extends BatchedTableWriter {
  static async open(store: Store, table: string, kinds: readonly ColumnKind[], commits: CommitPolicy = {}): Promise<FeedTableWriter> {
    return new FeedTableWriter(store, await openChunkAppender(store, table, kinds), commits.flushIntervalMs ?? 250, commits.rowGroupCommits ?? false);
  }

  /** The columns to fill, a row at a time (`endRow()` after each). */
  get rows(): ChunkAppender {
    return this.appender;
  }
}
