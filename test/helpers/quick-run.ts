import { join } from 'node:path';
import { parseDurationMs, parseFraction } from '../../src/cli/option-parsers.ts';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { runScenario, type ScenarioResult } from '../../src/scenario/run-scenario.ts';
import type { ReportFormat } from '../../src/report/write-reports.ts';
import type { Store } from '../../src/store/store.ts';

/**
 * Runs a small scenario in this process (real relay subprocess, real UDP, real store): 12 generated devices, 90 s of
 * traffic replayed at 30x, with the given mirror faults. About 4 seconds.
 */
export async function quickRun(store: Store, dir: string, options: { name: string; mirror?: Record<string, unknown>; thresholds?: Record<string, unknown>; formats?: ReportFormat[]; screenshot?: boolean }): Promise<ScenarioResult> {
  const spec = parseScenario(
    {
      name: options.name,
      traffic: { generate: { devices: 12, duration: '90s', interval: '3s' } },
      relay: { builtin: { mirror: true } },
      backends: { primary: { latency: '1ms' }, mirror: { latency: '1ms', ...options.mirror } },
      replay: { speed: '30x', ack_timeout: '1s' },
      ...(options.thresholds !== undefined && { thresholds: options.thresholds }),
    },
    options.name,
    parseDurationMs,
    parseFraction,
  );
  return runScenario(spec, { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: options.formats ?? ['json'], screenshot: options.screenshot ?? false });
}
