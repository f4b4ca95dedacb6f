import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportJson } from '../../src/report/report-json.ts';

/** The report.json a run wrote into its directory, as the report's own type says it is. */
export function readReport(runDir: string): ReportJson {
  return JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as ReportJson;
}
