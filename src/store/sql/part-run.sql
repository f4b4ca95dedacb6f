-- The run row of one host's Parquet export (parity export), decoded like list-runs.sql's rows.
SELECT run_id, name, kind, capture_id, protocol, relay, status, started_ns, ended_ns, plan::VARCHAR plan,
  topology::VARCHAR topology, thresholds::VARCHAR thresholds, stats::VARCHAR stats, strftime(started_at, '%Y-%m-%d %H:%M:%S') started_at,
  owner_pid, owner_host, wall_offset_ns
FROM read_parquet($file);
