import type { DeviceProtocol } from '../protocols/protocol.ts';
import { compareAcks, toHex } from '../protocols/protocol.ts';
import { num, str, type Row, type Store } from '../store/store.ts';
import type { MismatchSample } from './analysis.ts';
import { ANALYSIS_STEPS, CORRELATION_STEPS, PER_BACKEND_STEPS, RELEASED_AFTER, type AnalysisStep } from './analysis-steps.ts';
import { StepClock, stepName } from './step-clock.ts';

const S = ANALYSIS_STEPS;

/** The pseudo-backend of a run whose backend legs were not observed: it carries the devices' view alone. */
export const NO_BACKEND = '(none)';

/** ACKs later than this after their request are not taken as its ACK (sequence numbers wrap; devices retry). */
export const ACK_MATCH_WINDOW_NS = 30_000_000_000;
const MISMATCH_SAMPLES = 20;

/**
 * Backends of a run: those its topology says carry traffic (`expected`), and any seen in its observations; the one
 * the others are compared against; and how many observations the run holds.
 */
export async function backendsOf(store: Store, runId: number, expected: readonly string[] = []): Promise<{ backends: string[]; reference: string; observations: number }> {
  const legs = await store.query(S.backends.sql, { run_id: runId });
  const observed = legs.flatMap((leg) => (leg.backend === null ? [] : [str(leg.backend)]));
  const backends = [...new Set([...observed, ...expected])].sort();
  const reference = backends.includes('primary') ? 'primary' : (backends.find((b) => b.startsWith('target-')) ?? backends[0] ?? NO_BACKEND);
  return { backends, reference, observations: legs.reduce((sum, leg) => sum + num(leg.observations), 0) };
}

export interface CorrelateOptions {
  protocol: DeviceProtocol;
  reference: string;
  /** Every backend to follow packets to: those observed and those the topology says carry traffic (backendsOf). */
  backends: readonly string[];
  ignoreAckFields: readonly string[];
  /** Uplink packets 05b and 05c take in one statement (UPLINKS_PER_SLICE unless told). */
  uplinksPerSlice?: bigint;
}

/**
 * Follows every uplink packet across its legs into `packet_parity` (one row per packet and backend), then compares
 * ACKs field by field: each backend's against the reference backend's, and what each device got against what the
 * reference backend sent. Identical bytes match in SQL; the rest are decoded and compared after the ignore-mask.
 * Returns the first mismatching pairs of each kind, for reports.
 */
export async function correlateRun(store: Store, runId: number, options: CorrelateOptions, clock = new StepClock()): Promise<MismatchSample[]> {
  // With no backend observed or expected, one pseudo-backend carries the devices' view (sends and the ACKs they got).
  const backends = options.backends.length > 0 ? options.backends : [NO_BACKEND];
  // Each backend's number in packet_parity_rows (00b): its place in the list, from 1.
  const numberOf = (backend: string): number => backends.indexOf(backend) + 1;
  const params = { run_id: runId, reference: options.reference, reference_no: numberOf(options.reference), ack_window_ns: ACK_MATCH_WINDOW_NS };
  for (const step of CORRELATION_STEPS) {
    if (step === S.packetParity) await clock.time(stepName(step.file), () => judgeInSlices(store, step.sql, params, options.uplinksPerSlice ?? UPLINKS_PER_SLICE));
    else if (step === S.deviceAcks) await clock.time(stepName(step.file), () => lookUpInSlices(store, step.sql, params, options.uplinksPerSlice ?? UPLINKS_PER_SLICE));
    else if (!PER_BACKEND_STEPS.has(step)) await clock.time(stepName(step.file), () => store.exec(step.sql, params));
    else for (const backend of backends) await clock.time(`${stepName(step.file)} ${backend}`, () => store.exec(step.sql, { ...params, backend, backend_no: numberOf(backend) }));
    await release(store, RELEASED_AFTER.get(step) ?? []);
  }
  const ignored = [...options.protocol.defaultIgnoredAckFields, ...options.ignoreAckFields];
  const compare = async (view: MismatchSample['view'], differences: AnalysisStep, mark: AnalysisStep): Promise<MismatchSample[]> => {
    const rows = await clock.time(stepName(differences.file), () => store.query(differences.sql, params));
    const pairs = await clock.time(`compare ${view} ACKs field by field`, async () => compareAckPairs(rows, options.protocol, ignored, view));
    await clock.time(stepName(mark.file), () => markResults(store, runId, pairs, mark.sql));
    return pairs.samples;
  };
  return [...(await compare('backend', S.ackDifferences, S.markAckResults)), ...(await compare('device', S.deviceAckDifferences, S.markDeviceAckResults))];
}

/** Uplink packets 05b and 05c take in one statement: at 100M observations four slices of 5M took 11.7 s, one of 20M 14.4 s (05c). */
export const UPLINKS_PER_SLICE = 5_000_000n;

/** A slice of the uplink: its ids from `start` to before `end`, sent from `firstSentNs` to `lastSentNs`. */
interface UplinkSlice {
  start: bigint;
  end: bigint;
  firstSentNs: bigint;
  lastSentNs: bigint;
}

/**
 * The slices of `perSlice` ids (at least 1) from the first in `table` (the uplink, or the devices' ACKs, which carry
 * its ids and send times) that hold a packet, each with its first and last send, in one statement.
 */
async function uplinkSlices(store: Store, table: 'uplink' | 'device_acks', perSlice: bigint): Promise<UplinkSlice[]> {
  const size = perSlice > 0n ? perSlice : 1n;
  const rows = await store.query(
    `WITH first AS (SELECT min(uplink_id) AS id FROM ${table})
     SELECT first.id + (uplink_id - first.id) // $size * $size AS start, min(sent_ns) AS first_sent, max(sent_ns) AS last_sent
     FROM ${table}, first
     GROUP BY start ORDER BY start`,
    { size },
  );
  return rows.map((row) => {
    const start = row.start as bigint;
    return { start, end: start + size, firstSentNs: row.first_sent as bigint, lastSentNs: row.last_sent as bigint };
  });
}

/**
 * 05b over the uplink a slice at a time: each slice's requests are looked up among the ACKs from its first send to the
 * ACK window after its last (05b's header says why that is the same as one lookup over the run).
 */
async function lookUpInSlices(store: Store, sql: string, params: Record<string, string | number>, perSlice: bigint): Promise<void> {
  for (const slice of await uplinkSlices(store, 'uplink', perSlice)) {
    await store.exec(sql, { ...params, first_uplink: slice.start, end_uplink: slice.end, first_sent_ns: slice.firstSentNs, last_sent_ns: slice.lastSentNs });
  }
}

/**
 * 05c over the uplink's ids a slice at a time. DuckDB estimates the slices' range filters as more selective on the
 * reference's rows than on the rest, and would hash the joined rows instead of the reference's (1.5-1.7 s against
 * 1.1 s at 10M): the optimizer that swaps a join's sides is off for this step alone, which leaves the order its join
 * planner chose, as without the filters.
 */
async function judgeInSlices(store: Store, sql: string, params: Record<string, string | number>, perSlice: bigint): Promise<void> {
  const slices = await uplinkSlices(store, 'device_acks', perSlice);
  if (slices.length === 0) return;
  await store.exec(`SET disabled_optimizers = 'build_side_probe_side'`);
  try {
    for (const { start, end } of slices) await store.exec(sql, { ...params, first_uplink: start, end_uplink: end });
  } finally {
    await store.exec('RESET disabled_optimizers');
  }
}

/** Drops intermediate tables no later step reads, so that the steps after reuse their memory. */
async function release(store: Store, tables: readonly string[]): Promise<void> {
  for (const table of tables) await store.exec(`DROP TABLE IF EXISTS ${table}`);
}

interface ComparedPairs {
  matched: { uplinkId: number; backend: string }[];
  mismatched: { uplinkId: number; backend: string; fields: string }[];
  samples: MismatchSample[];
}

/** Compares each pair of ACK payloads whose bytes differ, through the protocol's fields and the ignore-mask. */
function compareAckPairs(rows: readonly Row[], protocol: DeviceProtocol, ignored: readonly string[], view: MismatchSample['view']): ComparedPairs {
  const result: ComparedPairs = { matched: [], mismatched: [], samples: [] };
  for (const row of rows) {
    const reference = row.reference_ack as Uint8Array;
    const other = row.ack as Uint8Array;
    const differences = compareAcks(protocol, reference, other, ignored);
    const key = { uplinkId: num(row.uplink_id), backend: str(row.backend) };
    if (differences.length === 0) {
      result.matched.push(key);
      continue;
    }
    result.mismatched.push({ ...key, fields: differences.map((d) => d.field).join(',') });
    if (result.samples.length < MISMATCH_SAMPLES) {
      result.samples.push({
        ...key,
        view,
        route: num(row.route_port),
        device: str(row.device),
        referenceHex: toHex(reference),
        otherHex: toHex(other),
        referenceFields: protocol.decodeAck(reference).fields,
        otherFields: protocol.decodeAck(other).fields,
        differingFields: differences.map((d) => d.field),
        differences: differences.map((d) => ({ field: d.field, label: d.label, reference: d.primary, other: d.mirror })),
      });
    }
  }
  return result;
}

/** Writes the field-aware results back into packet_parity through `markSql` (06b for backends, 07d for devices). */
async function markResults(store: Store, runId: number, pairs: ComparedPairs, markSql: string): Promise<void> {
  if (pairs.matched.length === 0 && pairs.mismatched.length === 0) return;
  // A TEMP table: only the store's own connection sees it, so the appender is on that connection too.
  await store.exec(S.ackResults.sql);
  const appender = await store.createAppender('ack_results');
  for (const { uplinkId, backend } of pairs.matched) {
    appender.appendBigInt(BigInt(uplinkId));
    appender.appendVarchar(backend);
    appender.appendBoolean(true);
    appender.appendNull();
    appender.endRow();
  }
  for (const { uplinkId, backend, fields } of pairs.mismatched) {
    appender.appendBigInt(BigInt(uplinkId));
    appender.appendVarchar(backend);
    appender.appendBoolean(false);
    appender.appendVarchar(fields);
    appender.endRow();
  }
  appender.closeSync();
  await store.exec(markSql, { run_id: runId });
}
