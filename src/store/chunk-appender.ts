import duckdb from '@duckdb/node-bindings';
import { DuckDBDataChunk, DuckDBTypeId, type DuckDBAppender } from '@duckdb/node-api';

/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_ROWS = 2048;

/** How a column is written; each maps to one DuckDB type (checked against the table when the appender opens). */
export type ColumnKind = 'bool' | 'u8' | 'i32' | 'u32' | 'i64' | 'f64' | 'varchar' | 'blob';

const TYPE_OF_KIND: Record<ColumnKind, DuckDBTypeId> = {
  bool: DuckDBTypeId.BOOLEAN,
  u8: DuckDBTypeId.UTINYINT,
  i32: DuckDBTypeId.INTEGER,
  u32: DuckDBTypeId.UINTEGER,
  i64: DuckDBTypeId.BIGINT,
  f64: DuckDBTypeId.DOUBLE,
  varchar: DuckDBTypeId.VARCHAR,
  blob: DuckDBTypeId.BLOB,
};

const WIDTH_OF_KIND: Record<ColumnKind, number> = { bool: 1, u8: 1, i32: 4, u32: 4, i64: 8, f64: 8, varchar: 16, blob: 16 };

/** Bytes a string or blob may have to be stored inline in DuckDB's 16-byte `duckdb_string_t`. */
const INLINE_STRING_BYTES = 12;
const STRING_CACHE_LIMIT = 8192;
const TWO_POW_32 = 4294967296;

interface Column {
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
  /** Strings and blobs too long to inline: assigned through DuckDB after the inline values are copied. */
  longRows: number[];
  longValues: (string | Uint8Array)[];
}

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
  private readonly chunk: DuckDBDataChunk;
  private readonly columns: Column[];
  private readonly stringCache = new Map<string, Uint8Array>();
  private readonly textEncoder = new TextEncoder();
  /** Row being written in the current chunk. */
  row = 0;
  /** Rows handed to DuckDB so far. */
  appendedRows = 0;
  /** Runs before each chunk goes to DuckDB: for rows another table must commit first (rows this chunk refers to). */
  beforeChunk: (() => void) | undefined;

  constructor(
    private readonly appender: DuckDBAppender,
    table: string,
    kinds: readonly ColumnKind[],
    /** Called once the appender is closed: releases a connection opened for it (Store.createWriterAppender). */
    private readonly release: () => void = () => undefined,
  ) {
    if (kinds.length !== appender.columnCount) {
      throw new Error(`${table}: writer has ${kinds.length} columns, the table has ${appender.columnCount}`);
    }
    const types = kinds.map((kind, index) => {
      const type = appender.columnType(index);
      if (type.typeId !== TYPE_OF_KIND[kind]) {
        throw new Error(`${table}: column ${index} is ${type.toString()}, the writer writes it as ${kind}`);
      }
      return type;
    });
    this.chunk = DuckDBDataChunk.create(types);
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

  setString(column: number, value: string): void {
    const c = this.columns[column] as Column;
    let inline = this.stringCache.get(value);
    if (inline === undefined) {
      const bytes = this.textEncoder.encode(value);
      if (bytes.length > INLINE_STRING_BYTES) {
        c.longRows.push(this.row);
        c.longValues.push(value);
        return;
      }
      inline = inlineString(bytes);
      if (this.stringCache.size >= STRING_CACHE_LIMIT) this.stringCache.clear();
      this.stringCache.set(value, inline);
    }
    c.u8.set(inline, this.row * 16);
  }

  setBytes(column: number, value: Uint8Array): void {
    const c = this.columns[column] as Column;
    if (value.length <= INLINE_STRING_BYTES) {
      writeInline(c, this.row, value);
      return;
    }
    c.longRows.push(this.row);
    c.longValues.push(value);
  }

  setNull(column: number): void {
    const c = this.columns[column] as Column;
    c.validity[this.row >>> 5] = (c.validity[this.row >>> 5] as number) & ~(1 << (this.row & 31));
    c.hasNulls = true;
  }

  endRow(): void {
    this.row++;
    if (this.row === CHUNK_ROWS) this.flushChunk();
  }

  /** Hands the rows written so far to the appender (buffered inside DuckDB until `flush` or `close`). */
  flushChunk(): void {
    const rows = this.row;
    if (rows === 0) return;
    this.beforeChunk?.();
    const raw = this.chunk.chunk;
    this.columns.forEach((c, index) => {
      const vector = duckdb.data_chunk_get_vector(raw, index);
      duckdb.copy_data_to_vector(vector, 0, c.buffer, 0, rows * WIDTH_OF_KIND[c.kind]);
      for (let i = 0; i < c.longRows.length; i++) {
        const value = c.longValues[i] as string | Uint8Array;
        if (typeof value === 'string') duckdb.vector_assign_string_element(vector, c.longRows[i] as number, value);
        else duckdb.vector_assign_string_element_len(vector, c.longRows[i] as number, value);
      }
      if (c.hasNulls) {
        duckdb.vector_ensure_validity_writable(vector);
        duckdb.copy_data_to_vector_validity(vector, 0, c.validity.buffer as ArrayBuffer, 0, Math.ceil(rows / 64) * 8);
        c.validity.fill(0xffffffff);
        c.hasNulls = false;
      }
      c.longRows.length = 0;
      c.longValues.length = 0;
    });
    duckdb.data_chunk_set_size(raw, rows);
    this.appender.appendDataChunk(this.chunk);
    this.chunk.reset();
    this.appendedRows += rows;
    this.row = 0;
  }

  /** Makes every row written so far part of the table. */
  flush(): void {
    this.flushChunk();
    this.appender.flushSync();
  }

  close(): void {
    try {
      this.flushChunk();
      this.appender.closeSync();
    } finally {
      this.release();
    }
  }
}

/** Column positions by name, from a writer's column list (in the table's order). */
export function columnIndexes<Name extends string>(columns: Record<Name, ColumnKind>): Record<Name, number> {
  return Object.fromEntries(Object.keys(columns).map((name, index) => [name, index])) as Record<Name, number>;
}

function createColumn(kind: ColumnKind): Column {
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
    longRows: [],
    longValues: [],
  };
}

/** DuckDB's inline `duckdb_string_t`: a u32 length in host byte order, then up to 12 bytes, zero-padded. */
function inlineString(bytes: Uint8Array): Uint8Array {
  const inline = new Uint8Array(16);
  new Uint32Array(inline.buffer, 0, 1)[0] = bytes.length;
  inline.set(bytes, 4);
  return inline;
}

function writeInline(column: Column, row: number, bytes: Uint8Array): void {
  const at = row * 16;
  column.u8.fill(0, at, at + 16);
  column.u32[row * 4] = bytes.length;
  column.u8.set(bytes, at + 4);
}
