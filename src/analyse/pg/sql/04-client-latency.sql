-- reads: pg_sends
-- writes: -
-- What the clients waited for each statement through the pooler (send to answer): the live path's latency, compared
-- with the same replay through a pooler that mirrors nothing.
SELECT count(*) AS answered,
       quantile_cont((done_ns - actual_ns) / 1e6, 0.5) AS p50_ms,
       quantile_cont((done_ns - actual_ns) / 1e6, 0.95) AS p95_ms,
       quantile_cont((done_ns - actual_ns) / 1e6, 0.99) AS p99_ms
FROM pg_sends
WHERE run_id = $run_id;
