import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { EXPORTED_TABLES, exportRunParquet } from '../../src/report/export-parquet.ts';
import { num, withStore, type Store } from '../../src/store/store.ts';
import type { ScenarioResult } from '../../src/scenario/run-scenario.ts';
import { quickRun } from '../helpers/quick-run.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

/** A small run with a lossy, differently answering mirror, exported to Parquet; the store stays open for `fn`. */
async function withExportedRun(fn: (run: { store: Store; result: ScenarioResult; runId: number; out: string }) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    await withStore(join(dir, 'a.duckdb'), async (store) => {
      const result = await quickRun(store, dir, { name: 'interop', mirror: { loss: '5%', ack_version: '3.0.0' } });
      const out = join(dir, 'export');
      await exportRunParquet(store, result.runName, out);
      await fn({ store, result, runId: result.analysis.run.runId, out });
    });
  });
}

// Polars (its Rust engine, through nodejs-polars) reads a run's export as written: every table, every row, every
// column, with JSON as text any reader parses. Binary ACK bytes are Parquet byte arrays, read as Polars Binary.
describe('a run exported as Parquet, read by Polars', () => {
  it('every table has the rows DuckDB has, and every column reads without a cast', async () => {
    await withExportedRun(async ({ store, result, runId, out }) => {
      const blobs = new Set((await store.query("SELECT table_name || '.' || column_name AS c FROM information_schema.columns WHERE data_type = 'BLOB'")).map((r) => String(r.c)));
      expect(blobs).toContain('observations.payload');
      for (const table of EXPORTED_TABLES) {
        const frame = pl.readParquet(join(out, `${table}.parquet`));
        const [row] = await store.query(`SELECT count(*) AS n FROM ${table} WHERE run_id = $run_id`, { run_id: runId });
        expect(frame.height, table).toBe(num(row?.n));
        expect(frame.height, table).toBeGreaterThan(0);
        for (const column of frame.columns) {
          // nodejs-polars cannot hand Binary values (or even their dtype) to JavaScript; Polars itself reads them.
          if (blobs.has(`${table}.${column}`)) continue;
          expect(() => frame.getColumn(column).toArray(), `${table}.${column}`).not.toThrow();
        }
      }
      const runs = pl.readParquet(join(out, 'runs.parquet'));
      const stats = JSON.parse(String(runs.getColumn('stats').toArray()[0])) as { sent: number };
      expect(stats.sent).toBe(result.analysis.run.stats?.sent);
      const verdicts = pl.readParquet(join(out, 'verdicts.parquet'));
      expect(Array.isArray(JSON.parse(String(verdicts.getColumn('findings').toArray()[0])))).toBe(true);
      // The ACK bytes: as many present as DuckDB holds.
      const observations = pl.readParquet(join(out, 'observations.parquet'));
      const [payloads] = await store.query('SELECT count(payload) AS n FROM observations WHERE run_id = $run_id', { run_id: runId });
      expect(observations.height - observations.getColumn('payload').nullCount()).toBe(num(payloads?.n));
    });
  });
});

// pandas (pd.read_parquet, default options, with pyarrow) reads the same export. Opt-in: Debian's pandas has no Parquet
// engine (bookworm packages neither pyarrow nor fastparquet) and CI reaches no other Python packages, so this runs
// where PARITY_PANDAS_PYTHON names a Python that has both (README, "Export").
const PANDAS_PYTHON = process.env.PARITY_PANDAS_PYTHON;
const READ_WITH_PANDAS = join(import.meta.dirname, '../peers/read-parquet-pandas.py');

interface PandasView {
  tables: Record<string, { rows: number; dtypes: Record<string, string> }>;
  sent: number;
  findings_is_list: boolean;
  payloads: number;
  payloads_are_bytes: boolean;
  ack_hashes: number[];
}

describe.runIf(PANDAS_PYTHON !== undefined)('a run exported as Parquet, read by pandas', () => {
  it('every table has the rows DuckDB has, JSON as text, ACK bytes as bytes, hashes exact', async () => {
    await withExportedRun(async ({ store, result, runId, out }) => {
      const seen = JSON.parse(execFileSync(PANDAS_PYTHON ?? 'python3', [READ_WITH_PANDAS, out], { encoding: 'utf8', timeout: 60_000 })) as PandasView;
      expect(Object.keys(seen.tables).sort()).toEqual([...EXPORTED_TABLES].sort());
      for (const table of EXPORTED_TABLES) {
        const [row] = await store.query(`SELECT count(*) AS n FROM ${table} WHERE run_id = $run_id`, { run_id: runId });
        expect(seen.tables[table]?.rows, table).toBe(num(row?.n));
        expect(seen.tables[table]?.rows, table).toBeGreaterThan(0);
      }
      expect(seen.sent).toBe(result.analysis.run.stats?.sent);
      expect(seen.findings_is_list).toBe(true);
      const [payloads] = await store.query('SELECT count(payload) AS n FROM observations WHERE run_id = $run_id', { run_id: runId });
      expect(seen.payloads).toBe(num(payloads?.n));
      expect(seen.payloads_are_bytes).toBe(true);
      const hashes = await store.query('SELECT DISTINCT ack_hash AS h FROM packet_parity WHERE run_id = $run_id AND ack_hash IS NOT NULL ORDER BY h', { run_id: runId });
      expect(seen.ack_hashes).toEqual(hashes.map((r) => num(r.h)));
    });
  });
});
