import type { Column, FilledChunk } from './chunk-columns.ts';

/**
 * The chunks a feed (ChunkFeed) holds for DuckDB, and the table function its INSERTs read them from. Two kinds: one
 * DuckDB's threads take chunks from without JavaScript (native-feed-queue.ts, the C addon), and the bindings' table
 * function, whose callback runs on the JavaScript thread (js-feed-queue.ts, where the addon is not built).
 */
export interface FeedQueue {
  /** The table function to `INSERT ... SELECT * FROM name()`. */
  readonly functionName: string;
  /** Queues a filled chunk; its columns come back from `spareColumns` once they may be filled again. */
  push(chunk: FilledChunk): void;
  /** A set of columns cleared for filling, if one is free. */
  spareColumns(): Column[] | undefined;
  /** Chunks queued and not yet taken by DuckDB. */
  backlog(): number;
  /** Chunks and rows DuckDB has taken so far. */
  taken(): { chunks: number; rows: number };
  /** The INSERT in progress ends once this many chunks are taken in all (undefined: once the queue is empty). */
  endAt(chunks: number | undefined): void;
  /**
   * Asks for `onRoom` (given when the queue was made) to be called once the backlog is below `room`; false when it
   * already is (then no call comes).
   */
  askForRoom(): boolean;
  /** Drops what is queued, for good: the feed failed or closed. */
  drop(): void;
}
