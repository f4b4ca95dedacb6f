-- Runs with their metadata as text (decoded by run-metadata.ts), oldest first.
SELECT run_id, name, kind, capture_id, protocol, relay, status, started_ns, ended_ns, plan::VARCHAR plan,
  topology::VARCHAR topology, thresholds::VARCHAR thresholds, stats::VARCHAR stats, strftime(started_at, '%Y-%m-%d %H:%M:%S') started_at,
  owner_pid, owner_host, harness_lag_p99_ms, harness_lag_max_ms
FROM runs WHERE $name IS NULL OR name = $name ORDER BY run_id;
