import type { Command } from 'commander';
import { analyseRun } from '../analyse/analyse-run.ts';
import { exitCodeOf, type Analysis } from '../analyse/analysis.ts';
import { mergeObservations } from '../observe/merge-observations.ts';
import { loadThresholds } from '../analyse/thresholds.ts';
import { renderTerminalReport } from '../report/terminal-report.ts';
import { toReportJson } from '../report/report-json.ts';
import { DEFAULT_STORE_PATH, withExistingStore, withStore, type Store } from '../store/store.ts';
import type { AnalysisProgress } from '../analyse/step-clock.ts';
import { createProgress } from '../core/progress.ts';
import { printJson, printNote } from './output.ts';
import { assembleRunFromParquet } from '../store/assemble-run.ts';
import { parseName } from './option-parsers.ts';

export interface AnalyseFlags {
  db: string;
  thresholds?: string;
  baseline?: string;
  noise?: string;
  strict?: boolean;
  observations?: string;
  fromParquet?: string;
  partial?: boolean;
  json?: boolean;
}

/** Flags shared by `parity analyse` and `parity report`. */
export function addAnalyseOptions(command: Command): Command {
  return command
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--thresholds <file>', 'thresholds YAML, overriding the defaults per metric and per route')
    .option('--baseline <run|report.json>', 'compare with an earlier run or report; regressions become findings (an HTTP or Postgres run: the run with no shadow or no mirror, to measure the live latency it adds); not for WebSocket runs')
    .option('--noise <run>', 'HTTP and Postgres runs: an analysed A/A run (a second copy of live, or of the database); answers that differ there as often are noise, not differences', parseName)
    .option('--strict', 'exit 1 on GO WITH WARNINGS too')
    .option('--partial', 'analyse a run that did not complete (interrupted, failed, abandoned) instead of calling it INCOMPLETE; the report says so first')
    .option('--observations <files>', 'merge observations recorded by other processes in their own stores (comma-separated)')
    .option('--from-parquet <dir>', 'first assemble the run from the Parquet exports of several hosts (parity export RUN --parquet DIR/HOST on each) into --db');
}

/** How `analyse` and `report` open their store: an existing one, unless --from-parquet is to assemble the run into it. */
export function storeForAnalysis(flags: AnalyseFlags): <T>(path: string, fn: (store: Store) => Promise<T>) => Promise<T> {
  return flags.fromParquet === undefined ? withExistingStore : withStore;
}

/** Merges, analyses and returns the analysis of a run, with the store still open for the caller. */
export async function analyseWithFlags(store: Store, runName: string, flags: AnalyseFlags): Promise<Analysis> {
  if (flags.fromParquet !== undefined) {
    const assembled = await assembleRunFromParquet(store, runName, flags.fromParquet);
    for (const part of assembled.parts) printNote(`${part.dir}: ${part.sends.toLocaleString('en-US')} sends, ${part.observations.toLocaleString('en-US')} observations`);
  }
  if (flags.observations !== undefined) {
    for (const merged of await mergeObservations(store, runName, flags.observations.split(',').filter(Boolean))) {
      const roles = merged.declared.length > 0 ? ` (${merged.declared.join(', ')})` : '';
      const state = merged.unfinished === undefined ? '' : `; ${merged.unfinished}`;
      printNote(`${merged.file}${roles}: ${merged.observations.toLocaleString('en-US')} observations merged${merged.observations === 0 ? ': nothing was observed there, a dead leg' : ''}${state}`);
    }
  }
  const line = progressLine(runName);
  try {
    return await analyseRun(store, runName, {
      ...(flags.thresholds !== undefined && { thresholds: await loadThresholds(flags.thresholds) }),
      ...(flags.baseline !== undefined && { baseline: flags.baseline }),
      ...(flags.noise !== undefined && { noise: flags.noise }),
      ...(flags.partial === true && { partial: true }),
      progress: line.progress,
    });
  } finally {
    line.done();
  }
}

/** On a terminal, the step an analysis is at and how many it has done; nothing when piped or in CI. */
function progressLine(runName: string): { progress: AnalysisProgress; done: () => void } {
  const line = createProgress(`analysing ${runName}:`);
  let finished = 0;
  return {
    progress: {
      stepStarted: (step) => line.update(finished, 0, `step ${finished + 1}, ${step}`),
      stepFinished: () => {
        finished += 1;
      },
    },
    done: () => line.done(),
  };
}

export function registerAnalyseCommand(program: Command): void {
  addAnalyseOptions(
    program
      .command('analyse')
      .alias('analyze')
      .description('correlate a run across its legs, compute parity metrics, and give a go / no-go verdict')
      .argument('<run>', 'run name (see parity runs)'),
  )
    .option('--json', 'print the analysis as report.json does')
    .addHelpText(
      'after',
      '\nExit status: 0 GO or GO WITH WARNINGS (1 with --strict), 1 NO-GO, INCOMPLETE (a run that did not complete) or INCONCLUSIVE (a latency compared across runs within the machine\'s noise), 2 bad usage or input.\n\n' +
        'Examples:\n  parity analyse nightly-1\n  parity analyse nightly-2 --thresholds thresholds.yaml --baseline nightly-1 --strict\n' +
        '  parity analyse e2e --observations primary.duckdb,mirror.duckdb\n' +
        '  parity analyse nightly-3 --from-parquet exports/nightly-3 --db assembled.duckdb   # one export per host in exports/nightly-3/<host>/\n',
    )
    .action(async (runName: string, flags: AnalyseFlags) => {
      const analysis = await storeForAnalysis(flags)(flags.db, (store) => analyseWithFlags(store, runName, flags));
      if (flags.json === true) printJson(toReportJson(analysis));
      else process.stdout.write(renderTerminalReport(analysis, { colour: process.stdout.isTTY === true }));
      process.exitCode = exitCodeOf(analysis.verdict, flags.strict === true);
    });
}
