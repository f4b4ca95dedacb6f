import { DuckDBTableFunction, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { resetColumn, writeChunk, type Column, type FilledChunk } from './chunk-columns.ts';
import type { SharedSetting } from './shared-setting.ts';

/** Chunks waiting for DuckDB before a writer is asked to wait (2,048 rows each: ~16 MB of a capture's rows). */
const BACKLOG_CHUNKS = 64;

let feeds = 0;

/**
 * A bulk load into one table that DuckDB runs on its own threads: `INSERT INTO table SELECT * FROM <a table function>`,
 * the function handing out the chunks a writer has filled. The writer's thread fills chunk n+1 while DuckDB's threads
 * compress and store chunk n: an appender does both on the writer's thread (`appendDataChunk`, about 0.6 s a million
 * rows of a capture), which made it half of an import's time.
 *
 * Rows are committed at `commit()` (in one transaction until then) and at `close()`. DuckDB's insertion order is not
 * kept while a feed is open (a setting DuckDB only has for the whole database): an INSERT fed by several threads keeps
 * its order only for sources DuckDB can number, and a function of ours cannot. Rows carry their own order (an index
 * column), and every reader sorts by it.
 */
export class ChunkFeed {
  private readonly queue: FilledChunk[] = [];
  private head = 0;
  private draining: Promise<void> | undefined;
  private inTransaction = false;
  /** Chunks pushed and taken so far, and how many must be stored before the next commit (undefined: none asked). */
  private pushed = 0;
  private taken = 0;
  private commitAt: number | undefined;
  /** Rows in the chunks taken so far. */
  private takenRows = 0;
  /** Told, after each commit, how many rows the table holds from this feed. */
  onCommitted: ((rows: number) => void) | undefined;
  private closed = false;
  private failure: unknown;
  private readonly waiting: (() => void)[] = [];
  /** Columns DuckDB has stored, to be filled again: a fresh 2,048-row buffer per chunk kept the collector busy. */
  private readonly spares: Column[][] = [];

  private constructor(
    private readonly connection: DuckDBConnection,
    private readonly table: string,
    private readonly functionName: string,
    readonly columnTypes: readonly DuckDBType[],
    private readonly restoreOrder: () => Promise<void>,
  ) {}

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
    const names = (await connection.runAndReadAll(`SELECT column_name FROM duckdb_columns() WHERE table_name = '${table}' AND schema_name = 'main' ORDER BY column_index`)).getRows().map((row) => String(row[0]));
    probe.closeSync();
    const functionName = `parity_feed_${table}_${++feeds}`;
    const feed = new ChunkFeed(connection, table, functionName, columnTypes, () => order.restore(connection));
    connection.registerTableFunction(
      DuckDBTableFunction.create({
        name: functionName,
        bindFunction: (bind) => columnTypes.forEach((type, index) => bind.addResultColumn(names[index] ?? `c${index}`, type)),
        // As many of DuckDB's threads as it likes may take chunks: while one stores a chunk, another is handed the next.
        initFunction: (init) => init.setMaxThreads(64),
        mainFunction: (_info, output) => {
          const chunk = feed.next();
          if (chunk === undefined) {
            output.rowCount = 0;
            return;
          }
          writeChunk(output.chunk, chunk.columns, chunk.rows);
          feed.recycle(chunk.columns);
        },
      }),
    );
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

  /** A set of columns already stored, cleared for filling, if one is free. */
  spareColumns(): Column[] | undefined {
    return this.spares.pop();
  }

  private recycle(columns: Column[]): void {
    if (this.spares.length >= BACKLOG_CHUNKS) return;
    for (const c of columns) resetColumn(c);
    this.spares.push(columns);
  }

  /** Resolves once the backlog is short enough to fill more; rejects with the failure that stopped the feed. */
  async ready(): Promise<void> {
    while (this.failure === undefined && this.queue.length - this.head >= BACKLOG_CHUNKS) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Asks for the rows fed so far to be committed: the INSERT in progress ends early and the transaction commits. */
  commit(): void {
    this.commitAt = this.pushed;
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
      this.connection.closeSync();
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** The next chunk for the INSERT, or undefined to end it: the queue is empty, or a commit is due. */
  private next(): FilledChunk | undefined {
    if (this.taken === this.commitAt || this.head === this.queue.length) return undefined;
    this.taken++;
    const chunk = this.queue[this.head] as FilledChunk;
    this.takenRows += chunk.rows;
    this.queue[this.head++] = undefined as unknown as FilledChunk;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.queue.length - this.head < BACKLOG_CHUNKS) this.wake();
    return chunk;
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
        if (this.taken !== this.commitAt && this.head < this.queue.length) {
          if (!this.inTransaction) {
            await this.connection.run('BEGIN TRANSACTION');
            this.inTransaction = true;
          }
          await this.connection.run(`INSERT INTO ${this.table} SELECT * FROM ${this.functionName}()`);
        } else {
          this.commitAt = undefined;
          if (this.inTransaction) {
            this.inTransaction = false;
            const rows = this.takenRows;
            await this.connection.run('COMMIT');
            this.onCommitted?.(rows);
          }
        }
      }
    } catch (error) {
      this.failure ??= error;
      this.queue.length = 0;
      this.head = 0;
      if (this.inTransaction) {
        this.inTransaction = false;
        await this.connection.run('ROLLBACK').catch(() => undefined);
      }
    }
  }

  /** Chunks to store, or a commit due (every chunk before its mark stored). */
  private hasWork(): boolean {
    return this.head < this.queue.length || (this.commitAt !== undefined && this.taken >= this.commitAt);
  }

  private wake(): void {
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}
