import { fileURLToPath } from 'node:url';
import { loadSql } from '../store/sql-file.ts';

/** One SQL step of the analysis, with the tables it declares (its `-- reads:` and `-- writes:` header lines). */
export interface AnalysisStep {
  file: string;
  sql: string;
  reads: readonly string[];
  writes: readonly string[];
}

function declared(sql: string, path: string, what: 'reads' | 'writes'): string[] {
  const line = new RegExp(`^-- ${what}: (.*)$`, 'm').exec(sql);
  if (line === null) throw new Error(`${path}: no "-- ${what}:" line`);
  const list = (line[1] as string).trim();
  return list === '-' ? [] : list.split(',').map((table) => table.trim());
}

/** A step from the `sql/` folder beside `moduleUrl` (each protocol family's analysis keeps its own). */
export function sqlStep(moduleUrl: string, file: string): AnalysisStep {
  const sql = loadSql(moduleUrl, `./sql/${file}`);
  const path = fileURLToPath(new URL(`./sql/${file}`, moduleUrl));
  return { file, sql, reads: declared(sql, path, 'reads'), writes: declared(sql, path, 'writes') };
}

const step = (file: string): AnalysisStep => sqlStep(import.meta.url, file);

/**
 * The analysis's SQL steps in the order they run. Each says what it reads and writes; a step reads only stored tables
 * and what an earlier step wrote, and changes only what it declares (test/analyse/analysis-steps.test.ts checks the
 * SQL against the declarations).
 */
export const ANALYSIS_STEPS = {
  backends: step('00-backends.sql'),
  keys: step('00a-keys.sql'),
  backendNames: step('00b-backend-names.sql'),
  names: step('00c-names.sql'),
  uplink: step('01-uplink.sql'),
  deviceGaps: step('01b-device-gaps.sql'),
  receipts: step('02-receipts.sql'),
  receiptCounts: step('02b-receipt-counts.sql'),
  ackKeying: step('03-ack-keying.sql'),
  legTables: step('04-leg-tables.sql'),
  repeatedAnswers: step('05a-repeated-answers.sql'),
  backendLegs: step('05-backend-legs.sql'),
  extraAnswers: step('05e-extra-answers.sql'),
  deviceAcks: step('05b-device-acks.sql'),
  unaskedAcks: step('05d-unasked-acks.sql'),
  junkToDevices: step('05f-junk-to-devices.sql'),
  packetParity: step('05c-packet-parity.sql'),
  ackDifferences: step('07-ack-differences.sql'),
  ackResults: step('06a-ack-results.sql'),
  markAckResults: step('06b-mark-ack-results.sql'),
  deviceAckDifferences: step('07c-device-ack-differences.sql'),
  markDeviceAckResults: step('07d-mark-device-ack-results.sql'),
  backendMetrics: step('08-backend-metrics.sql'),
  backendOverall: step('09-backend-overall.sql'),
  deviceMetrics: step('10-device-metrics.sql'),
  unaskedAckCounts: step('10b-unasked-and-junk.sql'),
  driftWindows: step('11-drift-windows.sql'),
  relayQueue: step('12-relay-queue.sql'),
  worstWindowDrift: step('13-worst-window-drift.sql'),
  latencyDrift: step('14-latency-drift.sql'),
  latencyBands: step('15-latency-bands.sql'),
} as const;

/** The steps that follow each packet across its legs, in order (correlateRun); 00b, 05a and 05 run once per backend. */
export const CORRELATION_STEPS = [
  ANALYSIS_STEPS.keys,
  ANALYSIS_STEPS.backendNames,
  ANALYSIS_STEPS.names,
  ANALYSIS_STEPS.uplink,
  ANALYSIS_STEPS.deviceGaps,
  ANALYSIS_STEPS.receipts,
  ANALYSIS_STEPS.receiptCounts,
  ANALYSIS_STEPS.ackKeying,
  ANALYSIS_STEPS.legTables,
  ANALYSIS_STEPS.repeatedAnswers,
  ANALYSIS_STEPS.backendLegs,
  ANALYSIS_STEPS.extraAnswers,
  ANALYSIS_STEPS.deviceAcks,
  ANALYSIS_STEPS.unaskedAcks,
  ANALYSIS_STEPS.junkToDevices,
  ANALYSIS_STEPS.packetParity,
] as const;
export const PER_BACKEND_STEPS: ReadonlySet<AnalysisStep> = new Set([ANALYSIS_STEPS.backendNames, ANALYSIS_STEPS.repeatedAnswers, ANALYSIS_STEPS.backendLegs]);

/**
 * The analysis's intermediate tables, dropped once the step named has run (for every backend): no later step reads
 * them (test/analyse/analysis-steps.test.ts checks). The steps after reuse the memory they held instead of taking
 * fresh pages, which this project's virtual machine charges about 10 µs each for, and a run too large for memory
 * spills less: the devices' ACKs (05b) are looked up after the backends' legs (05) so that the receipts are gone
 * before they are made. Dropped this way, a 10M-observation analysis peaked 10-14% lower and took 7-10% fewer fresh
 * pages (docs/performance.md).
 */
export const RELEASED_AFTER: ReadonlyMap<AnalysisStep, readonly string[]> = new Map([
  [ANALYSIS_STEPS.extraAnswers, ['receipts', 'ack_keying', 'repeated_answers', 'device_gaps']],
  [ANALYSIS_STEPS.unaskedAcks, ['uplink']],
  [ANALYSIS_STEPS.packetParity, ['backend_legs', 'device_acks']],
]);

/** Tables the analysis keeps in the store; a re-analysis replaces a run's rows in them (and nothing else). */
export const DERIVED_TABLES = ['packet_parity_rows', 'packet_parity_names', 'drift_windows', 'route_metrics'] as const;
