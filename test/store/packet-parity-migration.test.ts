import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { withStore } from '../../src/store/store.ts';
import { withTempDir } from '../helpers/temp-dir.ts';

// packet_parity as stores made before 2026-12-05 hold it: every latency and flag stored.
const STORED_LATENCIES = `
CREATE TABLE packet_parity (
  run_id INTEGER NOT NULL, uplink_id BIGINT NOT NULL, device VARCHAR NOT NULL, route_port INTEGER NOT NULL,
  backend VARCHAR NOT NULL, sent_ns BIGINT NOT NULL, wants_ack BOOLEAN NOT NULL, match_key VARCHAR,
  delivered BOOLEAN NOT NULL, received_ns BIGINT, forward_latency_ms DOUBLE, reordered BOOLEAN, acked BOOLEAN,
  ack_kind VARCHAR, ack_latency_ms DOUBLE, backend_ack_latency_ms DOUBLE, ack_hash BIGINT, ack_match BOOLEAN,
  mismatch_fields VARCHAR, device_acked BOOLEAN, round_trip_ms DOUBLE, device_ack_hash BIGINT, device_ack_match BOOLEAN,
  device_mismatch_fields VARCHAR, relay_added_ms DOUBLE, one_sided_ack BOOLEAN
);
INSERT INTO packet_parity VALUES
  -- delivered and answered in time, the device got the ACK
  (1, 0, 'd1', 20500, 'primary', 1000000000123, true, 'k0', true, 1000000300456, 0.300333, false, true, 'ack',
   2.000111, 1.699778, 42, NULL, NULL, true, 2.500999, 42, true, NULL, 0.801221, NULL),
  -- delivered, no answer in time: a one-sided ACK on the mirror's row
  (1, 0, 'd1', 20500, 'mirror', 1000000000123, true, 'k0', true, 1000000400000, 0.399877, true, false, NULL,
   NULL, NULL, NULL, NULL, NULL, true, 2.500999, NULL, NULL, NULL, NULL, true),
  -- lost on the way, asked for nothing
  (1, 1, 'd2', 20500, 'mirror', 1000000100000, false, NULL, false, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);`;

// packet_parity as stores made from then until 2026-12-05 evening hold it: a table whose latencies are generated columns.
const GENERATED_LATENCIES = `
CREATE TABLE packet_parity (
  run_id            INTEGER NOT NULL, uplink_id         BIGINT NOT NULL, device            VARCHAR NOT NULL,
  route_port        INTEGER NOT NULL, backend           VARCHAR NOT NULL, sent_ns           BIGINT NOT NULL,
  wants_ack         BOOLEAN NOT NULL, match_key         VARCHAR,
  delivered         BOOLEAN GENERATED ALWAYS AS (received_ns IS NOT NULL), received_ns       BIGINT,
  forward_latency_ms DOUBLE GENERATED ALWAYS AS ((received_ns - sent_ns) / 1e6), reordered         BOOLEAN,
  acked             BOOLEAN GENERATED ALWAYS AS (CASE WHEN wants_ack AND received_ns IS NOT NULL THEN ack_ns IS NOT NULL END),
  ack_kind          VARCHAR, ack_latency_ms    DOUBLE GENERATED ALWAYS AS ((ack_ns - sent_ns) / 1e6),
  backend_ack_latency_ms DOUBLE GENERATED ALWAYS AS ((ack_ns - received_ns) / 1e6), ack_hash          BIGINT,
  ack_match         BOOLEAN, mismatch_fields   VARCHAR,
  device_acked      BOOLEAN GENERATED ALWAYS AS (CASE WHEN wants_ack THEN device_ack_ns IS NOT NULL END),
  round_trip_ms     DOUBLE GENERATED ALWAYS AS ((device_ack_ns - sent_ns) / 1e6), device_ack_hash   BIGINT,
  device_ack_match  BOOLEAN, device_mismatch_fields VARCHAR,
  relay_added_ms    DOUBLE GENERATED ALWAYS AS (((device_ack_ns - sent_ns) - (ack_ns - received_ns)) / 1e6),
  one_sided_ack     BOOLEAN, ack_ns            BIGINT, device_ack_ns     BIGINT
);
INSERT INTO packet_parity BY NAME SELECT * FROM (VALUES
  (1, 0, 'd1', 20500, 'primary', 1000000000123, true, 'k0', 1000000300456, false, 'ack', 42, NULL, NULL, 42, true, NULL, NULL, 1000002000234, 1000002501122),
  (1, 0, 'd1', 20500, 'mirror', 1000000000123, true, 'k0', 1000000400000, true, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true, NULL, 1000002501122),
  (1, 1, 'd2', 20500, 'mirror', 1000000100000, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (2, 7, 'd3', 20501, 'mirror', 1000000200000, true, 'k7', 1000000200900, false, 'nak', 9, false, 'code', NULL, NULL, NULL, false, 1000000201900, NULL)
) AS v(run_id, uplink_id, device, route_port, backend, sent_ns, wants_ack, match_key, received_ns, reordered, ack_kind,
       ack_hash, ack_match, mismatch_fields, device_ack_hash, device_ack_match, device_mismatch_fields, one_sided_ack, ack_ns, device_ack_ns);`;

// packet_parity as stores made on 2026-12-05 evening hold it: a view over packet_parity_stored, names stored as text.
const NAMES_STORED = `
CREATE TABLE packet_parity_stored (
  run_id INTEGER NOT NULL, uplink_id BIGINT NOT NULL, device VARCHAR NOT NULL, route_port INTEGER NOT NULL,
  backend VARCHAR NOT NULL, sent_ns BIGINT NOT NULL, wants_ack BOOLEAN NOT NULL, match_key VARCHAR, received_ns BIGINT,
  reordered BOOLEAN, ack_kind VARCHAR, ack_hash BIGINT, ack_match BOOLEAN, mismatch_fields VARCHAR,
  device_ack_hash BIGINT, device_ack_match BOOLEAN, device_mismatch_fields VARCHAR, one_sided_ack BOOLEAN,
  ack_ns BIGINT, device_ack_ns BIGINT
);
CREATE VIEW packet_parity AS
SELECT
  run_id, uplink_id, device, route_port, backend, sent_ns, wants_ack, match_key, received_ns IS NOT NULL AS delivered,
  received_ns, (received_ns - sent_ns) / 1e6 AS forward_latency_ms, reordered,
  CASE WHEN wants_ack AND received_ns IS NOT NULL THEN ack_ns IS NOT NULL END AS acked, ack_kind,
  (ack_ns - sent_ns) / 1e6 AS ack_latency_ms, (ack_ns - received_ns) / 1e6 AS backend_ack_latency_ms,
  ack_hash, ack_match, mismatch_fields, CASE WHEN wants_ack THEN device_ack_ns IS NOT NULL END AS device_acked,
  (device_ack_ns - sent_ns) / 1e6 AS round_trip_ms, device_ack_hash, device_ack_match, device_mismatch_fields,
  ((device_ack_ns - sent_ns) - (ack_ns - received_ns)) / 1e6 AS relay_added_ms, one_sided_ack, ack_ns, device_ack_ns
FROM packet_parity_stored;
${GENERATED_LATENCIES.replace(/CREATE TABLE packet_parity \([\s\S]*?\n\);/, '').replace('INSERT INTO packet_parity BY NAME', 'INSERT INTO packet_parity_stored BY NAME')}`;

const TABLES_NOW = [
  { table_name: 'packet_parity', table_type: 'VIEW' },
  { table_name: 'packet_parity_names', table_type: 'BASE TABLE' },
  { table_name: 'packet_parity_numbered', table_type: 'VIEW' },
  { table_name: 'packet_parity_rows', table_type: 'BASE TABLE' },
];
const TABLES = `SELECT table_name, table_type FROM information_schema.tables WHERE table_name LIKE 'packet_parity%' ORDER BY 1`;

const COLUMNS = 'uplink_id, backend, delivered, forward_latency_ms, reordered, acked, ack_kind, ack_latency_ms, backend_ack_latency_ms, ack_hash, device_acked, round_trip_ms, device_ack_hash, device_ack_match, relay_added_ms, one_sided_ack';

/** A store as an earlier version left it, made with DuckDB alone (`sql`), and what `query` read from it then. */
async function madeBefore(db: string, sql: string, query: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(db);
  const connection = await instance.connect();
  try {
    await connection.run(sql);
    return (await connection.runAndReadAll(query)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('packet_parity of a store made before its latencies were generated', () => {
  it('is migrated on open: every column reads as it was stored, and the ACK times are whole nanoseconds', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'before.duckdb');
      const before = await madeBefore(db, STORED_LATENCIES, `SELECT ${COLUMNS} FROM packet_parity ORDER BY uplink_id, backend`);
      for (let open = 0; open < 2; open++) {
        await withStore(db, async (store) => {
          expect(await store.query(`SELECT ${COLUMNS} FROM packet_parity ORDER BY uplink_id, backend`)).toEqual(before);
          const times = await store.query('SELECT ack_ns, device_ack_ns FROM packet_parity ORDER BY uplink_id, backend');
          expect(times).toEqual([
            { ack_ns: null, device_ack_ns: 1000002501122n },
            { ack_ns: 1000002000234n, device_ack_ns: 1000002501122n },
            { ack_ns: null, device_ack_ns: null },
          ]);
        });
      }
    });
  });

  it.each([
    ['a table with generated latencies', GENERATED_LATENCIES],
    ['a view over a table that stores names as text', NAMES_STORED],
  ])('%s is carried over to numbered rows, read through the view as it was', async (_what, sql) => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'before.duckdb');
      const before = await madeBefore(db, sql, 'SELECT * FROM packet_parity ORDER BY run_id, uplink_id, backend');
      expect(before).toHaveLength(4);
      for (let open = 0; open < 2; open++) {
        await withStore(db, async (store) => {
          // Every column, in the order it had, with the same values: what reports, exports and Parquet readers see.
          expect(await store.query('SELECT * FROM packet_parity ORDER BY run_id, uplink_id, backend')).toEqual(before);
          expect(await store.query(TABLES)).toEqual(TABLES_NOW);
          // Each run numbers its own names.
          expect(await store.query(`SELECT run_id, field, no, name FROM packet_parity_names ORDER BY ALL`)).toEqual([
            { run_id: 1, field: 'ack_kind', no: 1, name: 'ack' },
            { run_id: 1, field: 'backend', no: 1, name: 'mirror' },
            { run_id: 1, field: 'backend', no: 2, name: 'primary' },
            { run_id: 1, field: 'device', no: 1, name: 'd1' },
            { run_id: 1, field: 'device', no: 2, name: 'd2' },
            { run_id: 2, field: 'ack_kind', no: 1, name: 'nak' },
            { run_id: 2, field: 'backend', no: 1, name: 'mirror' },
            { run_id: 2, field: 'device', no: 1, name: 'd3' },
          ]);
        });
      }
    });
  });
});
