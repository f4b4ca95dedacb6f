import { fileURLToPath } from 'node:url';
import type { DuckDBConnection, DuckDBType } from '@duckdb/node-api';
import { resetColumn, WIDTH_OF_KIND, type Column, type FilledChunk } from './chunk-columns.ts';
import { duckdbStrings, loadDuckdbAddon } from './duckdb-strings.ts';
import type { FeedQueue } from './feed-queue.ts';

/** A column as the addon copies it: [data, data bytes, validity or null, long values, their rows, their ends, arena, arena bytes]. */
type QueuedColumn = [Uint8Array, number, Uint32Array | null, number, Uint32Array, Uint32Array, Uint8Array, number];

interface Addon {
  bind(libraryPath: string): number;
  create(connection: unknown, name: string, typeIds: Uint8Array, names: readonly string[], room: number, onRoom: () => void): object | undefined;
  push(feed: object, rows: number, columns: QueuedColumn[]): number;
  state(feed: object, counts: Float64Array): number;
  commitAt(feed: object, chunks: number): number;
  armWake(feed: object): number;
  close(feed: object): number;
}

const ADDON_PATH = fileURLToPath(new URL('../../build/duckdb-feed.node', import.meta.url));
const ADDON_SOURCE = fileURLToPath(new URL('./duckdb-feed.c', import.meta.url));

let loaded: Addon | null | undefined;
/** Why the C feed is not in use (feeds then run through the bindings' table function); empty when it is. */
export let duckdbFeedMissing = '';

/**
 * The C feed (duckdb-feed.c), or undefined where it is not built, is stale, cannot find DuckDB's library, or the C
 * string path is off (a queued chunk carries long strings as bytes, which only that path writes).
 * PARITY_DUCKDB_FEED=js turns it off.
 */
function duckdbFeed(): Addon | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (process.env.PARITY_DUCKDB_FEED === 'js') duckdbFeedMissing = 'PARITY_DUCKDB_FEED=js';
  else if (duckdbStrings() === undefined) duckdbFeedMissing = "the C string path is not in use, and the C feed writes long strings as it does";
  else {
    const result = loadDuckdbAddon<Addon>(ADDON_PATH, ADDON_SOURCE);
    if ('missing' in result) duckdbFeedMissing = result.missing;
    else loaded = result.addon;
  }
  return loaded ?? undefined;
}

/** Whether feeds run through the C feed in this process. */
export function nativeFeedInUse(): boolean {
  return duckdbFeed() !== undefined;
}

/**
 * A feed's queue in the C addon: DuckDB's threads take the chunks and fill their output without the JavaScript thread,
 * which only copies each filled chunk in (`push`) and is called back when the queue has room again.
 */
export class NativeFeedQueue implements FeedQueue {
  /** [chunks taken, rows taken, chunks queued], as the addon's state() fills them. */
  private readonly counts = new Float64Array(3);
  private readonly spares: Column[][] = [];
  private dropped = false;

  private constructor(
    private readonly addon: Addon,
    private readonly feed: object,
    readonly functionName: string,
  ) {}

  /** The queue, registered as `functionName` on `connection`; undefined when the addon cannot be used for it. */
  static create(connection: DuckDBConnection, functionName: string, columnTypes: readonly DuckDBType[], names: readonly string[], room: number, onRoom: () => void): NativeFeedQueue | undefined {
    const addon = duckdbFeed();
    if (addon === undefined) return undefined;
    // The bindings' connection external: the addon checks its type tag before reading it.
    const external = (connection as unknown as { connection: unknown }).connection;
    const feed = addon.create(external, functionName, Uint8Array.from(columnTypes, (type) => type.typeId), names, room, onRoom);
    return feed === undefined ? undefined : new NativeFeedQueue(addon, feed, functionName);
  }

  push(chunk: FilledChunk): void {
    if (this.dropped) return;
    const columns = chunk.columns.map((c): QueuedColumn => [c.u8, chunk.rows * WIDTH_OF_KIND[c.kind], c.hasNulls ? c.validity : null, c.longCount, c.longRows, c.longEnds, c.arena, c.arenaUsed]);
    if (this.addon.push(this.feed, chunk.rows, columns) < 0) throw new Error(`${this.functionName}: the C feed refused a chunk of ${chunk.rows} rows`);
    // Copied: the columns can be filled again at once.
    for (const c of chunk.columns) resetColumn(c);
    this.spares.push(chunk.columns);
  }

  spareColumns(): Column[] | undefined {
    return this.spares.pop();
  }

  backlog(): number {
    this.addon.state(this.feed, this.counts);
    return this.counts[2] as number;
  }

  taken(): { chunks: number; rows: number } {
    this.addon.state(this.feed, this.counts);
    return { chunks: this.counts[0] as number, rows: this.counts[1] as number };
  }

  endAt(chunks: number | undefined): void {
    this.addon.commitAt(this.feed, chunks ?? -1);
  }

  askForRoom(): boolean {
    return this.addon.armWake(this.feed) === 0;
  }

  drop(): void {
    this.dropped = true;
    this.addon.close(this.feed);
  }
}

