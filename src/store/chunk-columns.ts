import duckdb from '@duckdb/node-bindings';
import { DuckDBTypeId } from '@duckdb/node-api';
import { duckdbStrings } from './duckdb-strings.ts';

/** How a column is written; each maps to one DuckDB type (checked against the table when the appender opens). */
export type ColumnKind = 'bool' | 'u8' | 'i32' | 'u32' | 'i64' | 'f64' | 'varchar' | 'blob';

export const TYPE_OF_KIND: Record<ColumnKind, DuckDBTypeId> = {
  bool: DuckDBTypeId.BOOLEAN,
  u8: DuckDBTypeId.UTINYINT,
  i32: DuckDBTypeId.INTEGER,
  u32: DuckDBTypeId.UINTEGER,
  i64: DuckDBTypeId.BIGINT,
  f64: DuckDBTypeId.DOUBLE,
  varchar: DuckDBTypeId.VARCHAR,
  blob: DuckDBTypeId.BLOB,
};

export const WIDTH_OF_KIND: Record<ColumnKind, number> = { bool: 1, u8: 1, i32: 4, u32: 4, i64: 8, f64: 8, varchar: 16, blob: 16 };

/** One column of a chunk being filled: typed views over one buffer, and the values that do not fit inline. */
export interface Column {
  kind: ColumnKind;
  buffer: ArrayBuffer;
  u8: Uint8Array;
  i32: Int32Array;
  u32: Uint32Array;
  i64: BigInt64Array;
  f64: Float64Array;
  /** Validity bitmask for this chunk (bit set = value present); only copied when a NULL was written. */
  validity: Uint32Array;
  hasNulls: boolean;
  /**
   * Strings and blobs too long to inline, assigned through DuckDB after the inline values are copied: value i goes to
   * row `longRows[i]`; its bytes are `arena` from where value i-1's ended to `longEnds[i]`, unless it is a string
   * kept as text (`longTexts[i]`, where the C string path is not built: DuckDB encodes it).
   */
  longRows: Uint32Array;
  longEnds: Uint32Array;
  longTexts: (string | undefined)[];
  longCount: number;
  /**
   * Values too long to inline, copied: a writer's bytes are often a view of a larger buffer (a capture's read window),
   * and keeping a view per row until DuckDB takes the chunk kept each alive past the young generation.
   */
  arena: Uint8Array;
  arenaUsed: number;
}

/** One data chunk's rows, as a feed queues them. */
export interface FilledChunk {
  rows: number;
  columns: Column[];
}

/**
 * Copies `rows` rows of each column into a DuckDB data chunk: one memory copy per column, the strings and blobs too
 * long to inline in one native call per column (the C string path) or one each, the validity mask only where a NULL
 * was written.
 */
export function writeChunk(raw: duckdb.DataChunk, columns: readonly Column[], rows: number): void {
  const strings = duckdbStrings();
  columns.forEach((c, index) => {
    const vector = duckdb.data_chunk_get_vector(raw, index);
    duckdb.copy_data_to_vector(vector, 0, c.buffer, 0, rows * WIDTH_OF_KIND[c.kind]);
    if (strings !== undefined && c.longTexts.length === 0) {
      if (c.longCount > 0) strings.assign(vector, c.arena, c.longEnds, c.longRows, c.longCount);
    } else {
      let start = 0;
      for (let i = 0; i < c.longCount; i++) {
        const text = c.longTexts[i];
        const end = c.longEnds[i] as number;
        if (text !== undefined) duckdb.vector_assign_string_element(vector, c.longRows[i] as number, text);
        else duckdb.vector_assign_string_element_len(vector, c.longRows[i] as number, c.arena.subarray(start, end));
        start = end;
      }
    }
    if (c.hasNulls) {
      duckdb.vector_ensure_validity_writable(vector);
      duckdb.copy_data_to_vector_validity(vector, 0, c.validity.buffer as ArrayBuffer, 0, Math.ceil(rows / 64) * 8);
    }
  });
  duckdb.data_chunk_set_size(raw, rows);
}

/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_ROWS = 2048;

/**
 * DuckDB's row group (60 chunks). A transaction that appends at least this many rows has DuckDB compress and write
 * them to the file as whole row groups; fewer go to its write-ahead log first, and are compressed again at the next
 * checkpoint. A recording committed at each row group cost 1.5-1.9 µs of CPU a row (the writing thread's and
 * DuckDB's), against 2.8-3.1 µs in commits of 20,000 rows and 3.3-3.4 µs in commits of 5,000 (a tap's 250 ms at 10k
 * pps), in one process writing tap-shaped observations (docs/performance.md, 2026-12-06).
 */
export const ROW_GROUP_ROWS = 60 * CHUNK_ROWS;

export function createColumn(kind: ColumnKind): Column {
  const buffer = new ArrayBuffer(CHUNK_ROWS * WIDTH_OF_KIND[kind]);
  const eightByte = WIDTH_OF_KIND[kind] === 8;
  const fourByte = WIDTH_OF_KIND[kind] === 4;
  return {
    kind,
    buffer,
    u8: new Uint8Array(buffer),
    i32: fourByte ? new Int32Array(buffer) : new Int32Array(0),
    u32: WIDTH_OF_KIND[kind] % 4 === 0 ? new Uint32Array(buffer) : new Uint32Array(0),
    i64: eightByte ? new BigInt64Array(buffer) : new BigInt64Array(0),
    f64: eightByte ? new Float64Array(buffer) : new Float64Array(0),
    validity: new Uint32Array(CHUNK_ROWS / 32).fill(0xffffffff),
    hasNulls: false,
    // Only text and blobs have values too long to inline; for the others these stay empty (a writer of 18 columns
    // filled a fresh set of them per chunk queued while DuckDB caught up: 16 KB a column to zero for nothing).
    longRows: new Uint32Array(kind === 'varchar' || kind === 'blob' ? CHUNK_ROWS : 0),
    longEnds: new Uint32Array(kind === 'varchar' || kind === 'blob' ? CHUNK_ROWS : 0),
    longTexts: [],
    longCount: 0,
    arena: new Uint8Array(0),
    arenaUsed: 0,
  };
}

/** Clears what a chunk's rows left behind (NULLs, long values) for the column to be filled again. */
export function resetColumn(c: Column): void {
  if (c.hasNulls) {
    c.validity.fill(0xffffffff);
    c.hasNulls = false;
  }
  c.longCount = 0;
  c.longTexts.length = 0;
  c.arenaUsed = 0;
}

/** Copies a value too long to inline into the column's arena. */
export function addLongBytes(c: Column, row: number, value: Uint8Array): void {
  reserveArena(c, value.length);
  c.arena.set(value, c.arenaUsed);
  c.arenaUsed += value.length;
  addLong(c, row);
}

/** A string too long to inline, encoded into the column's arena as UTF-8. */
export function addLongText(c: Column, row: number, value: string, encoder: InstanceType<typeof TextEncoder>): void {
  reserveArena(c, 3 * value.length);
  c.arenaUsed += encoder.encodeInto(value, c.arena.subarray(c.arenaUsed)).written;
  addLong(c, row);
}

/** A string too long to inline, kept as text for DuckDB to encode (without the C string path). */
export function addLongTextAsIs(c: Column, row: number, value: string): void {
  c.longTexts[c.longCount] = value;
  addLong(c, row);
}

function addLong(c: Column, row: number): void {
  c.longRows[c.longCount] = row;
  c.longEnds[c.longCount] = c.arenaUsed;
  c.longCount++;
}

/** Room for `bytes` more in the arena, which grows to the largest chunk's bytes and stays. */
function reserveArena(c: Column, bytes: number): void {
  const end = c.arenaUsed + bytes;
  if (end <= c.arena.length) return;
  const grown = new Uint8Array(Math.max(end, 2 * c.arena.length, 64 * 1024));
  grown.set(c.arena.subarray(0, c.arenaUsed));
  c.arena = grown;
}
