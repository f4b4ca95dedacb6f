import type { DuckDBConnection } from '@duckdb/node-api';
import type { InsertionOrder } from './chunk-feed.ts';

/**
 * The store's one switch of DuckDB's `preserve_insertion_order` among the feeds open on it: the first feed turns it
 * off, the last one to close turns it back to what it was. Each feed restoring what it saw at its own start left it
 * off for good when two overlapped and the first closed first.
 */
export class SharedInsertionOrder implements InsertionOrder {
  private open = 0;
  private before: boolean | undefined;

  async relax(connection: DuckDBConnection): Promise<void> {
    if (this.open++ > 0) return;
    try {
      const value = (await connection.runAndReadAll("SELECT current_setting('preserve_insertion_order')")).getRows()[0]?.[0];
      this.before = value !== false;
      await connection.run('SET preserve_insertion_order = false');
    } catch (error) {
      this.open--;
      throw error;
    }
  }

  async restore(connection: DuckDBConnection): Promise<void> {
    if (--this.open > 0) return;
    await connection.run(`SET preserve_insertion_order = ${this.before === false ? 'false' : 'true'}`);
  }
}
