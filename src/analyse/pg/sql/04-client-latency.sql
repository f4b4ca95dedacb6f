-- reads: pg_sends
-- writes: -
-- What the clients waited for each statement through the pooler (send to answer): the live path's latency, compared
-- with the same replay through a pooler that mirrors nothing. A statement that got no answer (the connection closed, or
-- the answer timeout ran out: `error`) has no latency: it is counted apart. The p95 of the first and second half of the
-- statements (by send time) gauges how much the machine alone moved the latency during the run.
WITH sends AS (
  SELECT actual_ns, error, CASE WHEN error IS NULL THEN (done_ns - actual_ns) / 1e6 END AS ms FROM pg_sends WHERE run_id = $run_id
), middle AS (
  SELECT quantile_disc(actual_ns, 0.5) AS ns FROM sends WHERE ms IS NOT NULL
)
SELECT count(*) FILTER (WHERE error IS NULL) AS answered,
       quantile_cont(ms, 0.5) AS p50_ms,
       quantile_cont(ms, 0.95) AS p95_ms,
       quantile_cont(ms, 0.99) AS p99_ms,
       quantile_cont(ms, 0.95) FILTER (WHERE actual_ns <= middle.ns) AS p95_first_half_ms,
       quantile_cont(ms, 0.95) FILTER (WHERE actual_ns > middle.ns) AS p95_second_half_ms
FROM sends, middle;
