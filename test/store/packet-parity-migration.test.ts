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

const COLUMNS = 'uplink_id, backend, delivered, forward_latency_ms, reordered, acked, ack_kind, ack_latency_ms, backend_ack_latency_ms, ack_hash, device_acked, round_trip_ms, device_ack_hash, device_ack_match, relay_added_ms, one_sided_ack';

describe('packet_parity of a store made before its latencies were generated', () => {
  it('is migrated on open: every column reads as it was stored, and the ACK times are whole nanoseconds', async () => {
    await withTempDir(async (dir) => {
      const db = join(dir, 'before.duckdb');
      const instance = await DuckDBInstance.create(db);
      const connection = await instance.connect();
      await connection.run(STORED_LATENCIES);
      const before = (await connection.runAndReadAll(`SELECT ${COLUMNS} FROM packet_parity ORDER BY uplink_id, backend`)).getRowObjectsJS();
      connection.closeSync();
      instance.closeSync();
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
});
