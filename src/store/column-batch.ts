import { DuckDBDataChunk, type DuckDBAppender, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';

/** DuckDB's vector size: a data chunk holds at most this many rows. */
export const CHUNK_ROWS = 2048;

/**
 * Column-wise appending: rows are written into per-column arrays and handed to DuckDB a whole data chunk at a time.
 * Numeric columns then cross into DuckDB as one memory copy per chunk instead of one native call per value, which is
 * what makes a million rows a second possible (DuckDB's row appender manages about 765k rows/s for this shape).
 * Column types come from the table itself, so the schema file stays the single place they are written down.
 *
 * Writers fill `column.<name>[rows]` for every column, then call `commitRow()`.
 */
export class ColumnBatch<Name extends string> {
  /** The same arrays as `columns`, by column name. */
  readonly column: Readonly<Record<Name, DuckDBValue[]>>;
  rows = 0;
  /** Rows handed to DuckDB so far. */
  appendedRows = 0;
  private readonly columns: DuckDBValue[][];
  private readonly types: DuckDBType[];

  /** `names` are the table's columns in schema order; a count that differs from the table's is a programming error. */
  constructor(
    private readonly appender: DuckDBAppender,
    names: readonly Name[],
  ) {
    if (names.length !== appender.columnCount) {
      throw new Error(`column list has ${names.length} names, the table has ${appender.columnCount} columns`);
    }
    this.types = names.map((_, index) => appender.columnType(index));
    this.columns = names.map(() => new Array<DuckDBValue>(CHUNK_ROWS));
    this.column = Object.fromEntries(names.map((name, index) => [name, this.columns[index]])) as Record<Name, DuckDBValue[]>;
  }

  commitRow(): void {
    this.rows++;
    if (this.rows === CHUNK_ROWS) this.flushChunk();
  }

  /** Hands the rows written so far to the appender (still buffered inside DuckDB until `flush`). */
  flushChunk(): void {
    const { rows } = this;
    if (rows === 0) return;
    const chunk = DuckDBDataChunk.create(this.types, rows);
    for (let column = 0; column < this.columns.length; column++) {
      const values = this.columns[column] as DuckDBValue[];
      chunk.setColumnValues(column, rows === CHUNK_ROWS ? values : values.slice(0, rows));
    }
    this.appender.appendDataChunk(chunk);
    this.appendedRows += rows;
    this.rows = 0;
  }

  /** Makes every row written so far part of the table. */
  flush(): void {
    this.flushChunk();
    this.appender.flushSync();
  }

  close(): void {
    this.flushChunk();
    this.appender.closeSync();
  }
}
