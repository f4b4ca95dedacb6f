import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Stores made before packet_parity's latencies were generated from its times (schema.sql) hold them as stored
 * columns, and DuckDB cannot add a generated column to a table that exists. Such a table is renamed, the schema made
 * again (which creates packet_parity as it is now), and its rows carried over by name: each ACK's time is its send
 * time plus the latency stored for it, in whole nanoseconds as it was taken. One transaction: a store is migrated
 * whole or not at all. Done once; a store that has `ack_ns` is left as it is.
 */
export async function migratePacketParity(connection: DuckDBConnection, schemaSql: string, starting: (rows: number) => void = () => {}): Promise<boolean> {
  const reader = await connection.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM duckdb_columns()
     WHERE database_name = current_database() AND schema_name = 'main' AND table_name = 'packet_parity' AND column_name = 'ack_ns'`,
  );
  if (reader.getRowObjectsJS()[0]?.n !== 0) return false;
  const rows = await connection.runAndReadAll('SELECT count(*)::BIGINT AS n FROM packet_parity');
  starting(Number(rows.getRowObjectsJS()[0]?.n ?? 0));
  await connection.run(`BEGIN TRANSACTION;
ALTER TABLE packet_parity RENAME TO packet_parity_stored_latencies;
${schemaSql}
INSERT INTO packet_parity BY NAME
SELECT run_id, uplink_id, device, route_port, backend, sent_ns, wants_ack, match_key, received_ns, reordered,
       ack_kind, ack_hash, ack_match, mismatch_fields, device_ack_hash, device_ack_match, device_mismatch_fields, one_sided_ack,
       sent_ns + round(ack_latency_ms * 1e6)::BIGINT AS ack_ns,
       sent_ns + round(round_trip_ms * 1e6)::BIGINT AS device_ack_ns
FROM packet_parity_stored_latencies;
DROP TABLE packet_parity_stored_latencies;
COMMIT;`);
  return true;
}
