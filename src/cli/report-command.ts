import type { Command } from 'commander';
import { exitCodeOf } from '../analyse/analysis.ts';
import { renderTerminalReport } from '../report/terminal-report.ts';
import { parseFormats, writeReports } from '../report/write-reports.ts';
import { addAnalyseOptions, analyseWithFlags, storeForAnalysis, type AnalyseFlags } from './analyse-command.ts';
import { printNote } from './output.ts';

interface ReportFlags extends AnalyseFlags {
  format: string;
  out: string;
  screenshot?: boolean;
}

export function registerReportCommand(program: Command): void {
  addAnalyseOptions(
    program
      .command('report')
      .description('analyse a run and write its sign-off reports: table, Markdown, HTML with charts, JSON, JUnit')
      .argument('<run>', 'run name (see parity runs)'),
  )
    .option('--format <formats>', 'any of table,md,html,json,junit', 'table,md,html,json,junit')
    .option('--out <dir>', 'reports are written to <dir>/<run>/', 'reports')
    .option('--screenshot', 'open report.html in headless Chromium and save report.png beside it')
    .addHelpText(
      'after',
      '\nExit status as parity analyse: 0 GO or GO WITH WARNINGS (1 with --strict), 1 NO-GO, INCOMPLETE or INCONCLUSIVE, 2 bad usage or input.\n\n' +
        'Examples:\n  parity report nightly-1\n  parity report nightly-2 --format md,json,junit --out ci-reports --baseline reports/nightly-1/report.json\n',
    )
    .action(async (runName: string, flags: ReportFlags) => {
      const formats = parseFormats(flags.format, flags.screenshot === true);
      const { analysis, written } = await storeForAnalysis(flags)(flags.db, async (store) => {
        const result = await analyseWithFlags(store, runName, flags);
        return { analysis: result, written: await writeReports(store, result, { outDir: flags.out, formats, screenshot: flags.screenshot === true }) };
      });
      if (formats.includes('table')) process.stdout.write(renderTerminalReport(analysis, { colour: process.stdout.isTTY === true }));
      if (written.files.length > 0) printNote(`reports written to ${written.dir}: ${written.files.map((f) => f.slice(written.dir.length + 1)).join(', ')}`);
      if (written.page !== undefined && written.page.errors.length > 0) printNote(`report.html raised console errors: ${written.page.errors.join('; ')}`);
      process.exitCode = exitCodeOf(analysis.verdict, flags.strict === true);
    });
}
