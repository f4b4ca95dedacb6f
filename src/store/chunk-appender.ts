import { DuckDBDataChunk, type DuckDBAppender, type DuckDBType } from '@duckdb/node-api';
import { ChunkFeed } from './chunk-feed.ts';
import { duckdbStrings } from './duckdb-strings.ts';
import { addLongBytes, addLongText, addLongTextAsIs, CHUNK_ROWS, createColumn, resetColumn, ROW_GROUP_ROWS, TYPE_OF_KIND, writeChunk, type Column, type ColumnKind } from './chunk-columns.ts';
import type { Store } from './store.ts';

export { CHUNK_ROWS, ROW_GROUP_ROWS } from './chunk-columns.ts';
export type { ColumnKind } from './chunk-columns.ts';

/** Bytes a string or blob may have to be stored inline in DuckDB's 16-byte `duckdb_string_t`. */
const INLINE_STRING_BYTES = 12;
const TWO_POW_32 = 4294967296;

/**
 * Appends rows to a DuckDB table a data chunk at a time, writing values into plain typed arrays and handing each
 * column to DuckDB as one memory copy per 2,048 rows. Strings and blobs of up to 12 bytes are written inline, as the C
 * API's `duckdb_string_t` lays them out (length, then bytes); longer ones take one native call each. This is what
 * makes a million rows a second possible: the node-api vector classes cost ~70 ns a value, and the row appender
 * manages about 765k rows/s for a capture's shape.
 *
 * Writers call the `set*` methods for every column of a row, then `endRow()`.
 */
export class ChunkAppender {
  private readonly appender: DuckDBAppender | undefined;
  private readonly feed: ChunkFeed | undefined;
  private readonly chunk: DuckDBDataChunk | undefined;
  private columns: Column[];
  private readonly textEncoder = new TextEncoder();
  /** Long strings are encoded here when DuckDB takes a column's long values in one call (the C string path). */
  private readonly encodesLongText = duckdbStrings() !== undefined;
  /** Row being written in the current chunk. */
  row = 0;
  /** Rows handed to DuckDB so far. */
  appendedRows = 0;
  /** Runs before each chunk goes to DuckDB: for rows another table must commit first (rows this chunk refers to). */
  beforeChunk: (() => void) | undefined;
  /**
   * Runs once a feed has been handed a whole row group of rows since the last commit (ROW_GROUP_ROWS): for a writer
   * that commits by row group (BatchedTableWriter's `rowGroupCommits`).
   */
  onRowGroup: (() => void) | undefined;
  /** Rows handed to a feed since its last commit was asked for. */
  private rowsSinceCommit = 0;
  private reportCommit: ((rows: number) => void) | undefined;
  private committedRows = 0;

  /**
   * Writes through an appender, or through a feed (`ChunkFeed`: an INSERT that DuckDB runs on its own threads while
   * this thread fills the next chunks; for bulk loads).
   */
  constructor(
    target: DuckDBAppender | ChunkFeed,
    table: string,
    kinds: readonly ColumnKind[],
    /** Called once the appender is closed: releases a connection opened for it (Store.createWriterAppender). */
    private readonly release: () => void = () => undefined,
  ) {
    const columnTypes = target instanceof ChunkFeed ? target.columnTypes : Array.from({ length: target.columnCount }, (_, index) => target.columnType(index));
    if (kinds.length !== columnTypes.length) {
      throw new Error(`${table}: writer has ${kinds.length} columns, the table has ${columnTypes.length}`);
    }
    kinds.forEach((kind, index) => {
      const type = columnTypes[index] as DuckDBType;
      if (type.typeId !== TYPE_OF_KIND[kind]) {
        throw new Error(`${table}: column ${index} is ${type.toString()}, the writer writes it as ${kind}`);
      }
    });
    if (target instanceof ChunkFeed) {
      this.feed = target;
      target.onCommitted = (rows) => this.noteCommitted(rows);
    } else {
      this.appender = target;
      this.chunk = DuckDBDataChunk.create(columnTypes);
    }
    this.columns = kinds.map((kind) => createColumn(kind));
  }

  setNumber(column: number, value: number): void {
    const c = this.columns[column] as Column;
    switch (c.kind) {
      case 'bool':
      case 'u8':
        c.u8[this.row] = value;
        return;
      case 'i32':
        c.i32[this.row] = value;
        return;
      case 'u32':
        c.u32[this.row] = value;
        return;
      case 'f64':
        c.f64[this.row] = value;
        return;
      case 'i64':
        this.setSafeInteger(column, value);
        return;
      default:
        throw new Error(`column ${column} is ${c.kind}, not a number`);
    }
  }

  setBoolean(column: number, value: boolean): void {
    (this.columns[column] as Column).u8[this.row] = value ? 1 : 0;
  }

  setBigInt(column: number, value: bigint): void {
    (this.columns[column] as Column).i64[this.row] = value;
  }

  /** A safe integer (|v| < 2^53) into a BIGINT column, written as two 32-bit halves: no BigInt per row. */
  setSafeInteger(column: number, value: number): void {
    const c = this.columns[column] as Column;
    const high = Math.floor(value / TWO_POW_32);
    // Little-endian int64: low word first; two's complement falls out of the >>> 0 on both halves.
    c.u32[2 * this.row] = value - high * TWO_POW_32;
    c.u32[2 * this.row + 1] = high >>> 0;
  }

  /**
   * `sec` seconds and `ns` nanoseconds since the epoch (sec < 2^32, ns < 10^9) into a BIGINT column of nanoseconds,
   * without a BigInt: the product is split so that every partial sum stays below 2^53.
   */
  setEpochNs(column: number, sec: number, ns: number): void {
    const c = this.columns[column] as Column;
    const high = Math.floor(sec / 65536) * 1e9; // sec's upper 16 bits, times 1e9: < 2^46, stands for high * 2^16
    const highWords = Math.floor(high / 65536); // the part of high * 2^16 that is a multiple of 2^32
    const low = (high - highWords * 65536) * 65536 + (sec % 65536) * 1e9 + ns; // < 2^32 + 2^46 + 2^30
    const carry = Math.floor(low / TWO_POW_32);
    c.u32[2 * this.row] = low - carry * TWO_POW_32;
    c.u32[2 * this.row + 1] = highWords + carry;
  }

  setString(column: number, value: string): void {
    const c = this.columns[column] as Column;
    // More than 12 UTF-16 units is more than 12 UTF-8 bytes: long, and DuckDB encodes it (encoding it here too, only
    // to learn its length, was a replay's largest cost per statement after the send itself).
    if (value.length > INLINE_STRING_BYTES) {
      this.addLongString(c, value);
      return;
    }
    // ASCII (addresses, legs, kinds, match keys) is written in place a byte at a time. A cache of encoded strings
    // missed on every row for a value that changes with each row (a match key: a sequence number), and each miss
    // allocated two typed arrays and an ArrayBuffer's backing store.
    const { u8 } = c;
    const at = this.row * 16 + 4;
    const length = value.length;
    let i = 0;
    for (; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code > 0x7f) break;
      u8[at + i] = code;
    }
    if (i < length) {
      const bytes = this.textEncoder.encode(value);
      if (bytes.length > INLINE_STRING_BYTES) {
        this.addLongString(c, value);
        return;
      }
      writeInline(c, this.row, bytes);
      return;
    }
    // DuckDB compares inline strings as all 16 bytes: what follows the text must be zero.
    for (; i < INLINE_STRING_BYTES; i++) u8[at + i] = 0;
    c.u32[this.row * 4] = length;
  }

  private addLongString(c: Column, value: string): void {
    if (this.encodesLongText) addLongText(c, this.row, value, this.textEncoder);
    else addLongTextAsIs(c, this.row, value);
  }

  setBytes(column: number, value: Uint8Array): void {
    const c = this.columns[column] as Column;
    if (value.length <= INLINE_STRING_BYTES) {
      writeInline(c, this.row, value);
      return;
    }
    addLongBytes(c, this.row, value);
  }

  setNull(column: number): void {
    const c = this.columns[column] as Column;
    c.validity[this.row >>> 5] = (c.validity[this.row >>> 5] as number) & ~(1 << (this.row & 31));
    c.hasNulls = true;
  }

  endRow(): void {
    this.row++;
    if (this.row !== CHUNK_ROWS) return;
    this.flushChunk();
    // Only here, where rows accumulate: a commit asked for (flush) hands over its last chunk through flushChunk too,
    // and must not set off a second commit inside itself.
    if (this.rowsSinceCommit >= ROW_GROUP_ROWS) this.onRowGroup?.();
  }

  /** Hands the rows written so far to DuckDB: to the appender (buffered until `flush` or `close`), or to the feed. */
  flushChunk(): void {
    const rows = this.row;
    if (rows === 0) return;
    this.beforeChunk?.();
    if (this.feed !== undefined) {
      // The filled columns go to the feed whole; DuckDB's threads hand them back to be filled again once stored.
      const columns = this.columns;
      this.columns = this.feed.spareColumns() ?? columns.map((c) => createColumn(c.kind));
      this.feed.push({ rows, columns });
      this.rowsSinceCommit += rows;
    } else {
      const raw = (this.chunk as DuckDBDataChunk).chunk;
      writeChunk(raw, this.columns, rows);
      (this.appender as DuckDBAppender).appendDataChunk(this.chunk as DuckDBDataChunk);
      (this.chunk as DuckDBDataChunk).reset();
      for (const c of this.columns) resetColumn(c);
    }
    this.appendedRows += rows;
    this.row = 0;
  }

  /** Told after each commit how many rows are in the table (a feed's commits happen later than `flush`). */
  set onCommitted(report: (rows: number) => void) {
    this.reportCommit = report;
  }

  /** Rows in the table as of the last commit (a feed's, on DuckDB's threads): what a writer killed now leaves. */
  get committed(): number {
    return this.committedRows;
  }

  private noteCommitted(rows: number): void {
    this.committedRows = rows;
    this.reportCommit?.(rows);
  }

  /** Makes every row written so far part of the table (through a feed: at its next commit, see `ChunkFeed.commit`). */
  flush(): void {
    this.flushChunk();
    if (this.feed !== undefined) {
      this.rowsSinceCommit = 0;
      this.feed.commit();
    } else {
      (this.appender as DuckDBAppender).flushSync();
      this.noteCommitted(this.appendedRows);
    }
  }

  /** Resolves when DuckDB has taken enough of what was written for more to be worth writing (a feed's backlog). */
  async ready(): Promise<void> {
    await this.feed?.ready();
  }

  close(): void {
    if (this.feed !== undefined) throw new Error('a ChunkAppender on a feed closes with finish()');
    try {
      this.flushChunk();
      (this.appender as DuckDBAppender).closeSync();
    } finally {
      this.release();
    }
  }

  /** Writes what is left and closes, through an appender or a feed alike; rejects with a feed's failure. */
  async finish(): Promise<void> {
    if (this.feed === undefined) {
      this.close();
      return;
    }
    try {
      this.flushChunk();
      await this.feed.close();
    } finally {
      this.release();
    }
  }
}

/**
 * A ChunkAppender on `table` through a feed that DuckDB stores on its own threads: close it with `finish()`, await
 * `ready()` now and then. (A writer that needs its rows readable the moment it commits makes a ChunkAppender on
 * `Store.createWriterAppender` instead, as the capture's addresses do.)
 */
export async function openChunkAppender(store: Store, table: string, kinds: readonly ColumnKind[]): Promise<ChunkAppender> {
  return new ChunkAppender(await store.createFeed(table), table, kinds);
}

/** Column positions by name, from a writer's column list (in the table's order). */
export function columnIndexes<Name extends string>(columns: Record<Name, ColumnKind>): Record<Name, number> {
  return Object.fromEntries(Object.keys(columns).map((name, index) => [name, index])) as Record<Name, number>;
}

/** Up to 12 bytes inline, as DuckDB's `duckdb_string_t` lays them out: a u32 length in host byte order, then the bytes, zero-padded. */
function writeInline(column: Column, row: number, bytes: Uint8Array): void {
  const at = row * 16;
  column.u8.fill(0, at, at + 16);
  column.u32[row * 4] = bytes.length;
  column.u8.set(bytes, at + 4);
}
