-- reads: uplink, observations
-- writes: packet_parity_names
-- The numbers packet_parity_rows stores for the run's devices and for the kinds of its backends' answers: a string
-- column costs DuckDB as much to carry through 05c's joins and to store at two values as at a thousand.
INSERT INTO packet_parity_names
SELECT $run_id, field, row_number() OVER (PARTITION BY field ORDER BY name)::INTEGER, name
FROM (
  SELECT DISTINCT 'device' AS field, device AS name FROM uplink
  UNION ALL
  SELECT DISTINCT 'ack_kind', kind FROM observations WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay'
);
