import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Analysis } from '../analyse/analysis.ts';
import { isSafeName, toSafeName } from '../core/names.ts';
import { UsageError } from '../core/errors.ts';
import { makeOutputDir } from '../core/output-dir.ts';
import type { Store } from '../store/store.ts';
import { renderHtmlReport } from './html-report.ts';
import { renderJunitReport } from './junit-report.ts';
import { renderMarkdownReport } from './markdown-report.ts';
import { loadChartData } from './report-data.ts';
import { toReportJson } from './report-json.ts';
import { screenshotReport, type PageCheck } from './screenshot.ts';

export const REPORT_FORMATS = ['table', 'md', 'html', 'json', 'junit'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** `--format`'s list; with `--screenshot`, which is a picture of report.html, the list must hold html. */
export function parseFormats(value: string, screenshot = false): ReportFormat[] {
  const formats = value.split(',').map((f) => f.trim()).filter(Boolean);
  const unknown = formats.filter((f) => !(REPORT_FORMATS as readonly string[]).includes(f));
  if (unknown.length > 0) throw new UsageError(`--format: unknown format "${unknown[0]}" (known: ${REPORT_FORMATS.join(', ')})`, { field: 'format' });
  if (screenshot && !formats.includes('html')) throw new UsageError(`--screenshot is a picture of report.html, which --format ${value} does not write: add html`, { field: 'screenshot' });
  return formats as ReportFormat[];
}

export interface WrittenReports {
  dir: string;
  files: string[];
  page: PageCheck | undefined;
}

/** Writes the report files of an analysis under `<outDir>/<run>/`; the terminal table is the caller's to print. */
export async function writeReports(store: Store, analysis: Analysis, options: { outDir: string; formats: readonly ReportFormat[]; screenshot: boolean }): Promise<WrittenReports> {
  // Names are checked when runs are made; a store from before that may hold any text, which still may not leave --out.
  const dir = resolve(options.outDir, isSafeName(analysis.run.name) ? analysis.run.name : toSafeName(analysis.run.name));
  makeOutputDir(dir, '--out');
  const files: string[] = [];
  const write = (name: string, content: string): void => {
    writeFileSync(join(dir, name), content);
    files.push(join(dir, name));
  };
  if (options.formats.includes('json')) write('report.json', `${JSON.stringify(toReportJson(analysis), null, 2)}\n`);
  if (options.formats.includes('md')) write('report.md', renderMarkdownReport(analysis));
  if (options.formats.includes('junit')) write('junit.xml', renderJunitReport(analysis));
  let page: PageCheck | undefined;
  if (options.formats.includes('html')) {
    // An external relay's output is kept beside the reports (scenario runs): the page links it.
    const relayLog = existsSync(join(dir, 'relay.log')) ? 'relay.log' : undefined;
    write('report.html', renderHtmlReport(analysis, await loadChartData(store, analysis), relayLog === undefined ? {} : { relayLog }));
    if (options.screenshot) {
      page = await screenshotReport(join(dir, 'report.html'), join(dir, 'report.png'));
      files.push(join(dir, 'report.png'));
    }
  }
  return { dir, files, page };
}
