-- Replay lateness (actual minus scheduled send time) per window of $window_s seconds, p50 and p99, in microseconds:
-- a UDP run's sends or an HTTP run's requests.
WITH sent AS (
  SELECT actual_ns, scheduled_ns FROM sends WHERE run_id = $run_id
  UNION ALL
  SELECT actual_ns, scheduled_ns FROM http_sends WHERE run_id = $run_id
)
SELECT floor((actual_ns - $start_ns) / ($window_s * 1e9)) * $window_s AS window_start_s,
       quantile_cont((actual_ns - scheduled_ns) / 1000.0, 0.5) AS p50_us,
       quantile_cont((actual_ns - scheduled_ns) / 1000.0, 0.99) AS p99_us,
       count(*) AS sends
FROM sent
GROUP BY 1 ORDER BY 1;
