import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { exitCodeOf, type Analysis } from '../analyse/analysis.ts';
import { createProgress } from '../core/progress.ts';
import { renderTerminalReport } from '../report/terminal-report.ts';
import { parseFormats, type WrittenReports } from '../report/write-reports.ts';
import { loadAnyScenario } from '../scenario/load-scenario.ts';
import type { HttpScenarioSpec } from '../scenario/http/http-scenario-spec.ts';
import type { PgScenarioSpec } from '../scenario/pg/pg-scenario-spec.ts';
import type { WsScenarioSpec } from '../scenario/ws/ws-scenario-spec.ts';
import type { RunScenarioOptions } from '../scenario/run-scenario.ts';
import { DEFAULT_STORE_PATH, withStore, type Store } from '../store/store.ts';
import { flagError, readReplayField } from '../run/replay-request.ts';
import { ProgressFile } from '../store/progress-file.ts';
import { printNote } from './output.ts';
import { UsageError } from '../core/errors.ts';
import { showReplayProgress } from './replay-progress.ts';

interface RunFlags {
  db: string;
  out: string;
  format: string;
  screenshot?: boolean;
  strict?: boolean;
  drain?: string;
  baseline?: string;
}

/** Where the bundled scenarios live: fixtures/scenarios of this package. */
export const BUNDLED_SCENARIOS = fileURLToPath(new URL('../../fixtures/scenarios/', import.meta.url));

function addRunOptions(command: Command): Command {
  return command
    .option('--db <path>', 'DuckDB store file', DEFAULT_STORE_PATH)
    .option('--out <dir>', 'reports are written to <dir>/<run>/', 'reports')
    .option('--format <formats>', 'report files: any of md,html,json,junit (the table is always printed)', 'md,html,json,junit')
    .option('--screenshot', 'save a Chromium screenshot of report.html')
    .option('--strict', 'exit 1 on GO WITH WARNINGS too')
    .option('--baseline <run|report.json>', 'compare with an earlier run or report (overrides the scenario\'s baseline:); regressions become findings')
    .option('--drain <duration>', 'after the last send, how long to wait for every backend\'s late answers, counted again while owed answers still come (to a minute, or this if longer), up to 10m (overrides replay.drain; default: from the observed ACK latency)');
}

/** Runs a scenario file end to end and prints the table and the verdict; the exit code is the verdict's. */
export async function runScenarioFile(path: string, flags: RunFlags): Promise<void> {
  const loaded = await loadAnyScenario(path);
  if (loaded.protocol === 'http') return runHttpScenarioFile(path, loaded, flags);
  if (loaded.protocol === 'ws') return runWsScenarioFile(path, loaded, flags);
  if (loaded.protocol === 'pg') return runPgScenarioFile(path, loaded, flags);
  // Each family's runner is loaded when its scenario runs: together they are most of `parity run`'s start.
  const { runScenario } = await import('../scenario/run-scenario.ts');
  const spec = {
    ...loaded,
    ...(flags.baseline !== undefined && { baseline: flags.baseline }),
    replay: { ...loaded.replay, ...(flags.drain !== undefined && { drainMs: readReplayField('drain', flags.drain, flagError) }) },
  };
  const progress = createProgress(spec.name);
  // Beside the store, which the run holds: `parity runs` shows how far it is to anyone who asks meanwhile.
  const status = new ProgressFile(flags.db, `parity run ${path}`);
  try {
    const result = await interruptible((signal) =>
      withStore(flags.db, (store) =>
        runScenario(spec, {
          ...scenarioOptions(store, path, flags, signal),
          say: (line) => {
            progress.done();
            printNote(line);
          },
          onProgress: (p) => {
            showReplayProgress(progress, p, { lateness: false });
            status.update({ sent: p.sent, planned: p.planned, fraction: p.fraction, etaSec: p.etaSec ?? null, acks: p.acks, ratePps: Math.round(p.ratePps) });
          },
        }),
      ),
    );
    progress.done();
    printOutcome(result.analysis, result.reports, result.unmet, result.replay.status === 'interrupted', flags);
  } finally {
    status.close();
    progress.done();
  }
}

/** An HTTP shadowing scenario: its calibration runs, the run under test, the table and the verdict. */
async function runHttpScenarioFile(path: string, spec: HttpScenarioSpec, flags: RunFlags): Promise<void> {
  if (flags.baseline !== undefined) throw new UsageError('--baseline: an HTTP scenario makes its own baseline (its run with no shadow); turn it off with calibrate: { no_shadow: false }', { field: 'baseline' });
  if (flags.drain !== undefined) throw new UsageError('--drain: an HTTP scenario waits for the shadow\'s answers up to its proxy\'s shadow_timeout', { field: 'drain' });
  const { runHttpScenario } = await import('../scenario/http/run-http-scenario.ts');
  const result = await interruptible((signal) => withStore(flags.db, (store) => runHttpScenario(spec, { ...scenarioOptions(store, path, flags, signal), say: (line) => printNote(line) })));
  printOutcome(result.analysis, result.reports, result.unmet, result.status === 'interrupted', flags);
}

/** A WebSocket fan-out scenario: the relay agent to its gateways, the table and the verdict. */
async function runWsScenarioFile(path: string, spec: WsScenarioSpec, flags: RunFlags): Promise<void> {
  if (flags.baseline !== undefined) throw new UsageError('--baseline is not taken by a WebSocket scenario yet', { field: 'baseline' });
  if (flags.drain !== undefined) throw new UsageError('--drain: a WebSocket scenario waits until the agent\'s queues are empty and the gateways quiet', { field: 'drain' });
  const { runWsScenario } = await import('../scenario/ws/run-ws-scenario.ts');
  const result = await interruptible((signal) => withStore(flags.db, (store) => runWsScenario(spec, { ...scenarioOptions(store, path, flags, signal), say: (line) => printNote(line) })));
  printOutcome(result.analysis, result.reports, result.unmet, result.status === 'interrupted', flags);
}

/** A Postgres mirror scenario: two databases behind the mirroring pooler, the table and the verdict. */
async function runPgScenarioFile(path: string, spec: PgScenarioSpec, flags: RunFlags): Promise<void> {
  if (flags.baseline !== undefined) throw new UsageError('--baseline is not taken by a Postgres scenario yet', { field: 'baseline' });
  if (flags.drain !== undefined) throw new UsageError('--drain: a Postgres scenario waits until the mirror has answered what the pooler queued', { field: 'drain' });
  const { runPgScenario } = await import('../scenario/pg/run-pg-scenario.ts');
  const result = await interruptible((signal) => withStore(flags.db, (store) => runPgScenario(spec, { ...scenarioOptions(store, path, flags, signal), say: (line) => printNote(line) })));
  printOutcome(result.analysis, result.reports, result.unmet, result.status === 'interrupted', flags);
}

function scenarioOptions(store: Store, path: string, flags: RunFlags, signal: AbortSignal): Omit<RunScenarioOptions, 'say' | 'onProgress'> {
  return { store, baseDir: resolve(dirname(path)), reportsDir: flags.out, formats: parseFormats(flags.format, flags.screenshot === true), screenshot: flags.screenshot === true, signal };
}

/** Runs `work` with Ctrl-C and SIGTERM turned into its abort signal: a run stops cleanly and keeps what it recorded. */
async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(abort.signal);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** The table, the reports' place, unmet expectations; the exit code: 1 when unmet, 130 when interrupted, else the verdict's. */
function printOutcome(analysis: Analysis, reports: WrittenReports, unmet: readonly string[], interrupted: boolean, flags: RunFlags): void {
  process.stdout.write(renderTerminalReport(analysis, { colour: process.stdout.isTTY === true }));
  printNote(`reports: ${reports.dir}`);
  for (const line of unmet) printNote(`scenario expectation not met: ${line}`);
  process.exitCode = unmet.length > 0 ? 1 : interrupted ? 130 : exitCodeOf(analysis.verdict, flags.strict === true);
}

export function registerRunCommands(program: Command): void {
  addRunOptions(
    program
      .command('run')
      .description('run a whole validation from a scenario file: start, replay, analyse, report, tear down')
      .argument('<scenario>', 'scenario YAML (see fixtures/scenarios/)'),
  )
    .addHelpText('after', '\nExamples:\n  parity run fixtures/scenarios/go.yaml\n  parity run my-cutover.yaml --strict --out ci-reports\n')
    .action((scenario: string, flags: RunFlags) => runScenarioFile(scenario, flags));

  addRunOptions(
    program
      .command('demo')
      .description('run the bundled demo: the fleet fixture through the reference relay to two simulated backends')
      .option('--broken', 'the same with a misbehaving mirror: a NO-GO with its findings')
      .option('--http', 'the HTTP demo instead: a billing API through the reference shadowing proxy to a live and a shadow backend')
      .option('--ws', 'the WebSocket demo instead: telemetry through the reference relay agent to two gateways in parallel mode')
      .option('--pg', 'the Postgres demo instead: a billing database mirrored by the reference pooler to a second PostgreSQL (needs Debian\'s postgresql package)'),
  )
    .addHelpText('after', '\nExamples:\n  parity demo\n  parity demo --broken\n  parity demo --http\n  parity demo --http --broken\n  parity demo --ws --broken\n  parity demo --pg --broken\n')
    .action((flags: RunFlags & { broken?: boolean; http?: boolean; ws?: boolean; pg?: boolean }) => {
      if ([flags.http, flags.ws, flags.pg].filter((f) => f === true).length > 1) throw new UsageError('--http, --ws and --pg: one demo at a time', { field: 'pg' });
      const family = flags.http === true ? 'http-demo' : flags.ws === true ? 'ws-demo' : flags.pg === true ? 'pg-demo' : 'demo';
      return runScenarioFile(join(BUNDLED_SCENARIOS, `${family}${flags.broken === true ? '-broken' : ''}.yaml`), flags);
    });
}
