import { existsSync } from 'node:fs';
import { ConfigError } from '../core/errors.ts';
import { num, type Store } from '../store/store.ts';

/**
 * Brings into the store the observations other processes recorded in their own DuckDB files (`parity backend --db
 * mirror.duckdb --run NAME`): rows of the run of the same name. DuckDB lets one process write a file, so each process
 * writes its own and the analysis gathers them. Merging again replaces what an earlier merge brought from that file.
 */
export async function mergeObservations(store: Store, runId: number, runName: string, files: readonly string[]): Promise<number> {
  let merged = 0;
  for (const [index, file] of files.entries()) {
    if (!existsSync(file)) throw new ConfigError(`${file}: no such observation store`, { file, field: 'observations' });
    const alias = `merge_${index}`;
    await store.exec(`ATTACH '${file.replace(/'/g, "''")}' AS ${alias} (READ_ONLY)`);
    try {
      const observers = await store.query(
        `SELECT DISTINCT o.observer FROM ${alias}.observations o JOIN ${alias}.runs r ON r.run_id = o.run_id WHERE r.name = $name`,
        { name: runName },
      );
      if (observers.length === 0) throw new ConfigError(`${file}: holds no observations of run "${runName}"`, { file, field: 'observations' });
      for (const { observer } of observers) {
        await store.exec('DELETE FROM observations WHERE run_id = $run_id AND observer = $observer', { run_id: runId, observer: String(observer) });
      }
      const count = async (): Promise<number> => num((await store.query('SELECT count(*) n FROM observations WHERE run_id = $run_id', { run_id: runId }))[0]?.n);
      const before = await count();
      await store.exec(
        // BY NAME: a store written by an earlier version may lack later columns; they merge as NULL.
        `INSERT INTO observations BY NAME SELECT $run_id AS run_id, o.* EXCLUDE (run_id) FROM ${alias}.observations o
         JOIN ${alias}.runs r ON r.run_id = o.run_id WHERE r.name = $name`,
        { run_id: runId, name: runName },
      );
      merged += (await count()) - before;
    } finally {
      await store.exec(`DETACH ${alias}`);
    }
  }
  return merged;
}
