-- reads: sends, observations
-- writes: packet_parity_names
-- The numbers packet_parity_rows, the uplink and the steps' tables carry for the run's devices and for the kinds of
-- its backends' answers: a string column costs DuckDB as much to carry through a join and to store at two values as
-- at a thousand. The devices are the uplink's (01): the replayer's sends, or a recorded run's device>relay packets.
INSERT INTO packet_parity_names
SELECT $run_id, field, row_number() OVER (PARTITION BY field ORDER BY name)::INTEGER, name
FROM (
  SELECT DISTINCT 'device' AS field, name
  FROM (
    SELECT device AS name FROM sends WHERE run_id = $run_id AND error IS NULL
    UNION ALL
    SELECT src_ip || ':' || src_port FROM observations WHERE run_id = $run_id AND leg = 'device>relay'
  )
  UNION ALL
  SELECT DISTINCT 'ack_kind', kind FROM observations WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay'
);
