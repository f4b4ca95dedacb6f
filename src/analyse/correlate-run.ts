import type { DeviceProtocol } from '../protocols/protocol.ts';
import { compareAcks, toHex } from '../protocols/protocol.ts';
import { loadSql } from '../store/sql-file.ts';
import { num, str, type Store } from '../store/store.ts';
import type { MismatchSample } from './analysis.ts';

const STEPS = ['01-uplink.sql', '02-receipts.sql', '03-backend-acks.sql', '03b-ack-keying.sql', '04-device-acks.sql'].map((file) => loadSql(import.meta.url, `./sql/${file}`));
const PACKET_PARITY_SQL = loadSql(import.meta.url, './sql/05-packet-parity.sql');
const ACK_MATCH_SQL = loadSql(import.meta.url, './sql/06-ack-match.sql');
const ACK_DIFFERENCES_SQL = loadSql(import.meta.url, './sql/07-ack-differences.sql');

/** The pseudo-backend of a run whose backend legs were not observed: it carries the devices' view alone. */
export const NO_BACKEND = '(none)';

/** ACKs later than this after their request are not taken as its ACK (sequence numbers wrap; devices retry). */
export const ACK_MATCH_WINDOW_NS = 30_000_000_000;
const MISMATCH_SAMPLES = 20;

/** Backends seen in a run's observations, and the one the others are compared against. */
export async function backendsOf(store: Store, runId: number): Promise<{ backends: string[]; reference: string }> {
  const rows = await store.query(
    `SELECT DISTINCT CASE WHEN leg LIKE 'relay>%' THEN split_part(leg, '>', 2) ELSE split_part(leg, '>', 1) END AS backend
     FROM observations WHERE run_id = $run_id AND leg NOT IN ('relay>device', 'device>relay') ORDER BY backend`,
    { run_id: runId },
  );
  const backends = rows.map((row) => str(row.backend));
  const reference = backends.includes('primary') ? 'primary' : (backends.find((b) => b.startsWith('target-')) ?? backends[0] ?? NO_BACKEND);
  return { backends, reference };
}

/**
 * Follows every uplink packet across its legs into `packet_parity` (one row per packet and backend), then compares
 * each pair of ACKs to the same request field by field: identical bytes match in SQL; the rest are decoded and
 * compared after the ignore-mask. Returns the first mismatching pairs, for reports.
 */
export async function correlateRun(
  store: Store,
  runId: number,
  options: { protocol: DeviceProtocol; reference: string; ignoreAckFields: readonly string[] },
): Promise<MismatchSample[]> {
  for (const table of ['packet_parity', 'drift_windows', 'route_metrics']) await store.exec(`DELETE FROM ${table} WHERE run_id = $run_id`, { run_id: runId });
  for (const step of STEPS) await store.exec(step, { run_id: runId });
  await store.exec(PACKET_PARITY_SQL, { run_id: runId, ack_window_ns: ACK_MATCH_WINDOW_NS, no_backend: NO_BACKEND });
  await store.exec(ACK_MATCH_SQL, { run_id: runId, reference: options.reference });
  const ignored = [...options.protocol.defaultIgnoredAckFields, ...options.ignoreAckFields];
  const differing = await store.query(ACK_DIFFERENCES_SQL, { run_id: runId, reference: options.reference });
  const samples: MismatchSample[] = [];
  const matchedAfterMask: { uplinkId: number; backend: string }[] = [];
  const mismatched: { uplinkId: number; backend: string; fields: string }[] = [];
  for (const row of differing) {
    const reference = row.reference_ack as Uint8Array;
    const other = row.ack as Uint8Array;
    const differences = compareAcks(options.protocol, reference, other, ignored);
    const key = { uplinkId: num(row.uplink_id), backend: str(row.backend) };
    if (differences.length === 0) {
      matchedAfterMask.push(key);
      continue;
    }
    mismatched.push({ ...key, fields: differences.map((d) => d.field).join(',') });
    if (samples.length < MISMATCH_SAMPLES) {
      samples.push({
        ...key,
        route: num(row.route_port),
        device: str(row.device),
        referenceHex: toHex(reference),
        otherHex: toHex(other),
        referenceFields: options.protocol.decodeAck(reference).fields,
        otherFields: options.protocol.decodeAck(other).fields,
        differingFields: differences.map((d) => d.field),
      });
    }
  }
  await markAckResults(store, runId, matchedAfterMask, mismatched);
  return samples;
}

async function markAckResults(
  store: Store,
  runId: number,
  matched: { uplinkId: number; backend: string }[],
  mismatched: { uplinkId: number; backend: string; fields: string }[],
): Promise<void> {
  if (matched.length === 0 && mismatched.length === 0) return;
  await store.exec('CREATE OR REPLACE TEMP TABLE ack_results (uplink_id BIGINT, backend VARCHAR, matched BOOLEAN, fields VARCHAR)');
  const appender = await store.createAppender('ack_results');
  for (const { uplinkId, backend } of matched) {
    appender.appendBigInt(BigInt(uplinkId));
    appender.appendVarchar(backend);
    appender.appendBoolean(true);
    appender.appendNull();
    appender.endRow();
  }
  for (const { uplinkId, backend, fields } of mismatched) {
    appender.appendBigInt(BigInt(uplinkId));
    appender.appendVarchar(backend);
    appender.appendBoolean(false);
    appender.appendVarchar(fields);
    appender.endRow();
  }
  appender.closeSync();
  await store.exec(
    `UPDATE packet_parity AS p SET ack_match = a.matched, mismatch_fields = a.fields
     FROM ack_results a WHERE p.run_id = $run_id AND p.uplink_id = a.uplink_id AND p.backend = a.backend`,
    { run_id: runId },
  );
}
