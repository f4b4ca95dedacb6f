import type { Command } from 'commander';
import { formatDurationSec } from '../core/format.ts';
import { StoreLockedError } from '../core/errors.ts';
import { readProgressFiles, type ProgressReport } from '../store/progress-file.ts';
import { getRun, listRuns } from '../store/runs.ts';
import { DEFAULT_STORE_PATH, storeExists, str, withExistingStore } from '../store/store.ts';
import { printJson, printNote, printTable } from './output.ts';

export function registerRunsCommand(program: Command): void {
  program
    .command('runs')
    .description('list the runs in the store, with their latest verdict')
    .argument('[name]', 'show only this run')
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  parity runs --json\n')
    .action(async (name: string | undefined, flags: { db: string; json?: boolean }) => {
      let listed;
      try {
        // No store at the path lists no runs, and makes none (a mistyped --db made one); a run named there is an error.
        listed = name === undefined && !storeExists(flags.db) ? { runs: [], verdicts: new Map<number, string>() } : await withExistingStore(flags.db, async (store) => {
          // A run named and not there is an error that lists what is, as for a capture: "no runs in" was untrue.
          const list = name === undefined ? await listRuns(store) : [await getRun(store, name)];
          const rows = await store.query('SELECT run_id, arg_max(verdict, analysed_at) AS verdict FROM verdicts GROUP BY run_id');
          return { runs: list, verdicts: new Map(rows.map((row) => [Number(row.run_id), str(row.verdict)])) };
        });
      } catch (error) {
        // The store is busy with a long command: what that command says of its progress is the answer meanwhile.
        if (!(error instanceof StoreLockedError)) throw error;
        const inProgress = readProgressFiles(flags.db);
        if (inProgress.length === 0) throw error;
        printInProgress(inProgress, flags.json === true, error.message);
        return;
      }
      const { runs, verdicts } = listed;
      if (flags.json === true) {
        printJson(runs.map((run) => ({ ...run, verdict: verdicts.get(run.runId) ?? null })));
        return;
      }
      if (runs.length === 0) {
        process.stdout.write(`no runs in ${flags.db}; make one with parity replay, parity run or parity demo\n`);
        return;
      }
      printTable(
        ['run', 'kind', 'status', 'protocol', 'relay', 'started', 'duration', 'verdict'],
        runs.map((run) => [
          run.name,
          run.kind,
          run.status,
          run.protocol,
          run.relay ?? '-',
          run.startedAt,
          run.startedNs !== null && run.endedNs !== null ? formatDurationSec(Number(run.endedNs - run.startedNs) / 1e9) : '-',
          verdicts.get(run.runId) ?? 'not analysed',
        ]),
      );
    });
}

function printInProgress(reports: readonly ProgressReport[], json: boolean, lockMessage: string): void {
  if (json) {
    printJson({ inProgress: reports });
    return;
  }
  printNote(lockMessage);
  printTable(
    ['in progress', 'pid', 'started', 'updated', 'done', 'ETA', 'detail'],
    reports.map((r) => {
      const { fraction, etaSec, ...rest } = r.progress;
      return [
        r.command,
        String(r.pid),
        r.startedAt,
        r.updatedAt,
        typeof fraction === 'number' ? `${Math.round(fraction * 100)}%` : '-',
        typeof etaSec === 'number' ? formatDurationSec(etaSec) : '-',
        Object.entries(rest)
          .filter(([, v]) => v !== null)
          .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toLocaleString('en-US') : String(v)}`)
          .join(', '),
      ];
    }),
  );
}
