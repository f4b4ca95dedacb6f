import type { Command } from 'commander';
import { exportRunParquet } from '../report/export-parquet.ts';
import { UsageError } from '../core/errors.ts';
import { DEFAULT_STORE_PATH, withExistingStore } from '../store/store.ts';
import { printNote } from './output.ts';

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('write a run\'s tables (sends, observations, packet_parity, route_metrics, ...) as Parquet')
    .argument('<run>', 'run name')
    .option('--parquet <dir>', 'directory for <table>.parquet files')
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .addHelpText('after', '\nExample:\n  parity analyse nightly-1 && parity export nightly-1 --parquet exports/nightly-1\n')
    .action(async (runName: string, flags: { parquet?: string; db: string }) => {
      if (flags.parquet === undefined) throw new UsageError('export needs --parquet DIR', { field: 'parquet' });
      const dir = flags.parquet;
      const files = await withExistingStore(flags.db, (store) => exportRunParquet(store, runName, dir));
      printNote(`wrote ${files.length} files to ${dir}`);
    });
}
