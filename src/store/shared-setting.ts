import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * One of DuckDB's database-wide settings that the users of a store override for a while: the feeds open on it turn
 * `preserve_insertion_order` off, the runs recording in its process take `threads` down to one. The first to come
 * sets it, the last to go sets back what it was. Each user restoring what it saw at its own start left the setting
 * overridden for good when two overlapped and the first ended first.
 */
export class SharedSetting {
  private users = 0;
  /** The setting as it was before the first user came, as DuckDB prints it. */
  private before: string | undefined;

  constructor(
    private readonly name: string,
    private readonly value: string,
  ) {}

  async override(connection: DuckDBConnection): Promise<void> {
    if (this.users++ > 0) return;
    try {
      const rows = (await connection.runAndReadAll(`SELECT current_setting('${this.name}')::VARCHAR`)).getRows();
      this.before = String(rows[0]?.[0]);
      await connection.run(`SET ${this.name} = '${this.value}'`);
    } catch (error) {
      this.users--;
      throw error;
    }
  }

  async restore(connection: DuckDBConnection): Promise<void> {
    if (--this.users > 0 || this.before === undefined) return;
    await connection.run(`SET ${this.name} = '${this.before}'`);
  }
}
