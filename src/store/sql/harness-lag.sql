-- How late the harness's event loop ran while it timestamped the run (run/harness-lag.ts): the worst of every process
-- that wrote its legs, so a run recorded by several (a replay and a tap elsewhere) is judged by the laggiest.
UPDATE runs SET harness_lag_p99_ms = greatest(coalesce(harness_lag_p99_ms, 0), $p99_ms),
                harness_lag_max_ms = greatest(coalesce(harness_lag_max_ms, 0), $max_ms)
WHERE run_id = $id;
