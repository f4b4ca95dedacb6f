import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { exitCodeOf } from '../analyse/analysis.ts';
import { createProgress } from '../core/progress.ts';
import { renderTerminalReport } from '../report/terminal-report.ts';
import { parseFormats } from '../report/write-reports.ts';
import { loadAnyScenario } from '../scenario/load-scenario.ts';
import type { HttpScenarioSpec } from '../scenario/http/http-scenario-spec.ts';
import { runHttpScenario } from '../scenario/http/run-http-scenario.ts';
import { runScenario } from '../scenario/run-scenario.ts';
import { DEFAULT_STORE_PATH, withStore } from '../store/store.ts';
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
    .option('--drain <duration>', 'after the last send, how long to wait at most for every backend\'s late answers, up to 10m (overrides replay.drain; default: from the observed ACK latency)');
}

/** Runs a scenario file end to end and prints the table and the verdict; the exit code is the verdict's. */
export async function runScenarioFile(path: string, flags: RunFlags): Promise<void> {
  const loaded = await loadAnyScenario(path);
  if (loaded.protocol === 'http') return runHttpScenarioFile(path, loaded, flags);
  const spec = {
    ...loaded,
    ...(flags.baseline !== undefined && { baseline: flags.baseline }),
    replay: { ...loaded.replay, ...(flags.drain !== undefined && { drainMs: readReplayField('drain', flags.drain, flagError) }) },
  };
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = createProgress(spec.name);
  // Beside the store, which the run holds: `parity runs` shows how far it is to anyone who asks meanwhile.
  const status = new ProgressFile(flags.db, `parity run ${path}`);
  try {
    const result = await withStore(flags.db, (store) =>
      runScenario(spec, {
        store,
        baseDir: resolve(dirname(path)),
        reportsDir: flags.out,
        formats: parseFormats(flags.format),
        screenshot: flags.screenshot === true,
        signal: abort.signal,
        say: (line) => {
          progress.done();
          printNote(line);
        },
        onProgress: (p) => {
          showReplayProgress(progress, p, { lateness: false });
          status.update({ sent: p.sent, planned: p.planned, fraction: p.fraction, etaSec: p.etaSec ?? null, acks: p.acks, ratePps: Math.round(p.ratePps) });
        },
      }),
    );
    progress.done();
    process.stdout.write(renderTerminalReport(result.analysis, { colour: process.stdout.isTTY === true }));
    printNote(`reports: ${result.reports.dir}`);
    for (const unmet of result.unmet) printNote(`scenario expectation not met: ${unmet}`);
    process.exitCode = result.unmet.length > 0 ? 1 : result.replay.status === 'interrupted' ? 130 : exitCodeOf(result.analysis.verdict, flags.strict === true);
  } finally {
    status.close();
    progress.done();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** An HTTP shadowing scenario: its calibration runs, the run under test, the table and the verdict. */
async function runHttpScenarioFile(path: string, loaded: HttpScenarioSpec, flags: RunFlags): Promise<void> {
  if (flags.baseline !== undefined) throw new UsageError('--baseline: an HTTP scenario makes its own baseline (its run with no shadow); turn it off with calibrate: { no_shadow: false }', { field: 'baseline' });
  const spec = { ...loaded, replay: { ...loaded.replay, ...(flags.drain !== undefined && { drainMs: readReplayField('drain', flags.drain, flagError) }) } };
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await withStore(flags.db, (store) =>
      runHttpScenario(spec, {
        store,
        baseDir: resolve(dirname(path)),
        reportsDir: flags.out,
        formats: parseFormats(flags.format),
        screenshot: flags.screenshot === true,
        signal: abort.signal,
        say: (line) => printNote(line),
      }),
    );
    process.stdout.write(renderTerminalReport(result.analysis, { colour: process.stdout.isTTY === true }));
    printNote(`reports: ${result.reports.dir}`);
    for (const unmet of result.unmet) printNote(`scenario expectation not met: ${unmet}`);
    process.exitCode = result.unmet.length > 0 ? 1 : result.status === 'interrupted' ? 130 : exitCodeOf(result.analysis.verdict, flags.strict === true);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
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
      .option('--http', 'the HTTP demo instead: a billing API through the reference shadowing proxy to a live and a shadow backend'),
  )
    .addHelpText('after', '\nExamples:\n  parity demo\n  parity demo --broken\n  parity demo --http\n  parity demo --http --broken\n')
    .action((flags: RunFlags & { broken?: boolean; http?: boolean }) => {
      const family = flags.http === true ? 'http-demo' : 'demo';
      return runScenarioFile(join(BUNDLED_SCENARIOS, `${family}${flags.broken === true ? '-broken' : ''}.yaml`), flags);
    });
}
