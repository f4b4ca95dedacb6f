import { join } from 'node:path';
import { parseScenario } from '../../src/scenario/scenario-spec.ts';
import { runScenario, type ScenarioResult } from '../../src/scenario/run-scenario.ts';
import type { ReportFormat } from '../../src/report/write-reports.ts';
import type { Store } from '../../src/store/store.ts';

/** Latency bounds far above anything machine load causes: tests that judge delivery or ACKs use these. */
export const LOAD_PROOF_THRESHOLDS = {
  ack_latency_p95_ms: { warning: 1000, critical: 5000 },
  relay_added_latency_p95_ms: { warning: 2000, critical: 10000 },
};

/**
 * Runs a small scenario in this process (real relay subprocess, real UDP, real store): 12 generated devices, 90 s of
 * traffic replayed at 30x, with the given mirror faults. About 4 seconds.
 */
export async function quickRun(
  store: Store,
  dir: string,
  options: { name: string; mirror?: Record<string, unknown>; thresholds?: Record<string, unknown>; formats?: ReportFormat[]; screenshot?: boolean; relay?: Record<string, unknown> },
): Promise<ScenarioResult> {
  const spec = parseScenario(
    {
      name: options.name,
      traffic: { generate: { devices: 12, duration: '90s', interval: '3s' } },
      relay: { builtin: { mirror: true, ...options.relay } },
      backends: { primary: { latency: '1ms' }, mirror: { latency: '1ms', ...options.mirror } },
      replay: { speed: '30x', ack_timeout: '1s' },
      // The suite runs on a busy machine: latency bounds that load cannot reach, unless a test sets its own.
      thresholds: options.thresholds ?? LOAD_PROOF_THRESHOLDS,
    },
    options.name,
  );
  return runScenario(spec, { store, baseDir: dir, reportsDir: join(dir, 'reports'), formats: options.formats ?? ['json'], screenshot: options.screenshot ?? false });
}
