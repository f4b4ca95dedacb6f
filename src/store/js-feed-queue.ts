import { DuckDBTableFunction, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api';
import { resetColumn, writeChunk, type Column, type FilledChunk } from './chunk-columns.ts';
import type { FeedQueue } from './feed-queue.ts';

/**
 * A feed's queue read through the bindings' table function, whose callback DuckDB's threads wait on the JavaScript
 * thread to run: what the store uses where the C feed (native-feed-queue.ts) is not built or is turned off.
 */
export class JsFeedQueue implements FeedQueue {
  private readonly queue: FilledChunk[] = [];
  private head = 0;
  private takenChunks = 0;
  private takenRows = 0;
  private end: number | undefined;
  private wanted = false;
  /** Columns DuckDB has stored, to be filled again: a fresh 2,048-row buffer per chunk kept the collector busy. */
  private readonly spares: Column[][] = [];

  constructor(
    connection: DuckDBConnection,
    readonly functionName: string,
    columnTypes: readonly DuckDBType[],
    names: readonly string[],
    private readonly room: number,
    private readonly onRoom: () => void,
  ) {
    connection.registerTableFunction(
      DuckDBTableFunction.create({
        name: functionName,
        bindFunction: (bind) => columnTypes.forEach((type, index) => bind.addResultColumn(names[index] ?? `c${index}`, type)),
        // As many of DuckDB's threads as it likes may take chunks: while one stores a chunk, another is handed the next.
        initFunction: (init) => init.setMaxThreads(64),
        mainFunction: (_info, output) => {
          const chunk = this.next();
          if (chunk === undefined) {
            output.rowCount = 0;
            return;
          }
          writeChunk(output.chunk, chunk.columns, chunk.rows);
          this.recycle(chunk.columns);
        },
      }),
    );
  }

  push(chunk: FilledChunk): void {
    this.queue.push(chunk);
  }

  spareColumns(): Column[] | undefined {
    return this.spares.pop();
  }

  backlog(): number {
    return this.queue.length - this.head;
  }

  taken(): { chunks: number; rows: number } {
    return { chunks: this.takenChunks, rows: this.takenRows };
  }

  endAt(chunks: number | undefined): void {
    this.end = chunks;
  }

  askForRoom(): boolean {
    this.wanted = this.backlog() >= this.room;
    return this.wanted;
  }

  drop(): void {
    this.queue.length = 0;
    this.head = 0;
  }

  private recycle(columns: Column[]): void {
    if (this.spares.length >= this.room) return;
    for (const c of columns) resetColumn(c);
    this.spares.push(columns);
  }

  /** The next chunk for the INSERT, or undefined to end it: the queue is empty, or a commit is due. */
  private next(): FilledChunk | undefined {
    if (this.takenChunks === this.end || this.head === this.queue.length) return undefined;
    this.takenChunks++;
    const chunk = this.queue[this.head] as FilledChunk;
    this.takenRows += chunk.rows;
    this.queue[this.head++] = undefined as unknown as FilledChunk;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (this.wanted && this.backlog() < this.room) {
      this.wanted = false;
      this.onRoom();
    }
    return chunk;
  }
}
