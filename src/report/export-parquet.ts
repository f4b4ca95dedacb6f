import { join, resolve } from 'node:path';
import { makeOutputDir } from '../core/output-dir.ts';
import { getRun } from '../store/runs.ts';
import type { Store } from '../store/store.ts';

/** Tables a run's export holds: the run itself, its raw legs and its analysis (store/assemble-run.ts reads the first three back). */
export const EXPORTED_TABLES = ['runs', 'sends', 'observations', 'packet_parity', 'route_metrics', 'drift_windows', 'verdicts', 'relay_samples'] as const;

/**
 * Writes a run's rows of each table to `<dir>/<table>.parquet` (zstd), for other engines. JSON columns are written
 * as plain strings: Parquet's JSON annotation is DuckDB's to read back, and Polars's and pandas's to stumble on.
 */
export async function exportRunParquet(store: Store, runName: string, dir: string): Promise<string[]> {
  const run = await getRun(store, runName);
  const out = resolve(dir);
  makeOutputDir(out, '--parquet');
  const files: string[] = [];
  for (const table of EXPORTED_TABLES) {
    const file = join(out, `${table}.parquet`);
    const json = await store.query("SELECT column_name FROM information_schema.columns WHERE table_name = $table AND data_type = 'JSON' ORDER BY ordinal_position", { table });
    const asText = json.length === 0 ? '' : ` REPLACE (${json.map((c) => `"${String(c.column_name)}"::VARCHAR AS "${String(c.column_name)}"`).join(', ')})`;
    await store.exec(`COPY (SELECT *${asText} FROM ${table} WHERE run_id = ${run.runId}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd)`);
    files.push(file);
  }
  return files;
}
