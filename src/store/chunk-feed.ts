import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import type { Column, FilledChunk } from './chunk-columns.ts';
import type { FeedQueue } from './feed-queue.ts';
import { JsFeedQueue } from './js-feed-queue.ts';
import { NativeFeedQueue } from './native-feed-queue.ts';
import type { SharedSetting } from './shared-setting.ts';

/** Chunks waiting for DuckDB before a writer is asked to wait (2,048 rows each: ~16 MB of a capture's rows). */
const BACKLOG_CHUNKS = 64;

let feeds = 0;

/**
 * A bulk load into one table that DuckDB runs on its own threads: `INSERT INTO table SELECT * FROM <a table function>`,
 * the function handing out the chunks a writer has filled (a FeedQueue: the C feed, which DuckDB's threads read on
 * their own, or the bindings' table function). The writer's thread fills chunk n+1 while DuckDB's threads compress and
 * store chunk n: an appender does both on the writer's thread (`appendDataChunk`, about 0.6 s a million rows of a
 * capture), which made it half of an import's time.
 *
 * Rows are committed at `commit()` (in one transaction until then) and at `close()`. DuckDB's insertion order is not
 * kept while a feed is open (a setting DuckDB only has for the whole database): an INSERT fed by several threads keeps
 * its order only for sources DuckDB can number, and a function of ours cannot. Rows carry their own order (an index
 * column), and every reader sorts by it.
 */
export class ChunkFeed {
  private draining: Promise<void> | undefined;
  private inTransaction = false;
  /** Chunks pushed so far. */
  private pushed = 0;
  /**
   * How many chunks must be stored before each commit asked for and not yet made, in order: a commit asked while an
   * earlier one waited for DuckDB moved the one mark, and a chunk that failed after the earlier mark took the rows
   * before it down with it.
   */
  private readonly commitMarks: number[] = [];
  /** Told, after each commit, how many rows the table holds from this feed. */
  onCommitted: ((rows: number) => void) | undefined;
  private closed = false;
  private failure: unknown;
  private readonly waiting: (() => void)[] = [];
  private readonly queue: FeedQueue;

  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly table: string,
    functionName: string,
    readonly columnTypes: readonly DuckDBType[],
    names: readonly string[],
    private readonly restoreOrder: () => Promise<void>,
  ) {
    const onRoom = (): void => this.wake();
    this.queue =
      NativeFeedQueue.create(connection, functionName, columnTypes, names, BACKLOG_CHUNKS, onRoom) ??
      new JsFeedQueue(connection, functionName, columnTypes, names, BACKLOG_CHUNKS, onRoom);
  }

  /**
   * Opens a feed into `table` on `connection` (a connection of its own, which the feed closes). Column types are the
   * table's, read through an appender opened and closed at once. DuckDB keeps insertion order (or not) for the whole
   * database, and a feed must turn it off (`order`, the store's `preserve_insertion_order`): an INSERT from a table
   * function keeps order only on one thread. Feeds can overlap (a replay's sends while a capture is imported), so the
   * store counts them and turns it back on when the last closes.
   */
  static async open(connection: DuckDBConnection, table: string, order: SharedSetting): Promise<ChunkFeed> {
    const probe = await connection.createAppender(table);
    const columnTypes = Array.from({ length: probe.columnCount }, (_, index) => probe.columnType(index));
    // The INSERT takes the function's columns by position; reading the table's own names from duckdb_columns() took
    // 13-16 ms of every feed's opening (it lists every column of the store).
    const names = columnTypes.map((_, index) => `column${index}`);
    probe.closeSync();
    const feed = new ChunkFeed(connection, table, `parity_feed_${table}_${++feeds}`, columnTypes, names, () => order.restore(connection));
    await order.override(connection);
    return feed;
  }

  /** Queues a filled chunk; DuckDB takes it as soon as it can. */
  push(chunk: FilledChunk): void {
    if (this.closed) throw new Error(`${this.table}: feed closed`);
    this.queue.push(chunk);
    this.pushed++;
    this.kick();
  }

  /** A set of columns already stored (or copied), cleared for filling, if one is free. */
  spareColumns(): Column[] | undefined {
    return this.queue.spareColumns();
  }

  /** Resolves once the backlog is short enough to fill more; rejects with the failure that stopped the feed. */
  async ready(): Promise<void> {
    while (this.failure === undefined && this.queue.backlog() >= BACKLOG_CHUNKS && this.queue.askForRoom()) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Asks for the rows fed so far to be committed: the INSERT in progress ends early and the transaction commits. */
  commit(): void {
    if (this.commitMarks.at(-1) !== this.pushed) this.commitMarks.push(this.pushed);
    this.queue.endAt(this.commitMarks[0]);
    this.kick();
  }

  /** Commits everything fed and closes the connection; rejects with the failure that stopped the feed, if any. */
  async close(): Promise<void> {
    this.closed = true;
    this.commit();
    while (this.draining !== undefined) await this.draining;
    try {
      await this.restoreOrder();
    } finally {
      this.queue.drop();
      this.connection.closeSync();
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private kick(): void {
    if (this.draining !== undefined) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      this.wake();
      if (this.failure === undefined && this.hasWork()) this.kick();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.hasWork()) {
        if (this.queue.taken().chunks !== this.commitMarks[0] && this.queue.backlog() > 0) {
          if (!this.inTransaction) {
            await this.connection.run('BEGIN TRANSACTION');
            this.inTransaction = true;
          }
          await this.connection.run(`INSERT INTO ${this.table} SELECT * FROM ${this.queue.functionName}()`);
        } else {
          this.commitMarks.shift();
          this.queue.endAt(this.commitMarks[0]);
          if (this.inTransaction) {
            this.inTransaction = false;
            const { rows } = this.queue.taken();
            await this.connection.run('COMMIT');
            this.onCommitted?.(rows);
          }
        }
      }
    } catch (error) {
      this.failure ??= error;
      this.queue.drop();
      if (this.inTransaction) {
        this.inTransaction = false;
        await this.connection.run('ROLLBACK').catch(() => undefined);
      }
    }
  }

  /** Chunks to store, or a commit due (every chunk before its mark stored). */
  private hasWork(): boolean {
    const mark = this.commitMarks[0];
    return this.queue.backlog() > 0 || (mark !== undefined && this.queue.taken().chunks >= mark);
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}
