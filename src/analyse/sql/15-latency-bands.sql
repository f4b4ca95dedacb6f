-- reads: packet_parity
-- writes: -
-- Where each judged latency percentile can lie when the run's recordings missed $unrecorded datagrams. Each one missed
-- takes a sample out (a receipt or an answer unseen) or puts a wrong one in a right one's place (an answer unseen, and
-- a later answer to the same key taken for it), so the order statistic a percentile is read at moves by at most that
-- many ranks either way: the percentile lies between the samples $unrecorded ranks below the lower of the two it is
-- interpolated between and $unrecorded ranks above the upper one. NULL where that rank is outside the samples: no
-- bound on that side. Run only when something was missed; the samples are those 08, 09 and 10 take the percentiles of.
WITH ack AS (
  SELECT route_port, backend, list_sort(list(backend_ack_latency_ms)) AS samples
  FROM packet_parity
  WHERE run_id = $run_id AND backend <> $no_backend AND backend_ack_latency_ms IS NOT NULL
  GROUP BY GROUPING SETS ((route_port, backend), (backend))
),
relay_added AS (
  SELECT route_port, NULL::VARCHAR AS backend, list_sort(list(relay_added_ms)) AS samples
  FROM packet_parity
  WHERE run_id = $run_id AND backend = $reference AND relay_added_ms IS NOT NULL
  GROUP BY GROUPING SETS ((route_port), ())
),
judged AS (
  SELECT 'ack_latency_p95_ms' AS metric, route_port, backend, samples FROM ack
  UNION ALL
  SELECT 'relay_added_latency_p95_ms', route_port, backend, samples FROM relay_added
),
-- quantile_cont at 0.95 interpolates between the 0-based positions floor(h) and ceil(h), h = 0.95 (n - 1).
ranked AS (
  SELECT metric, route_port, backend, samples, len(samples) AS n,
         floor(0.95 * (len(samples) - 1))::BIGINT - $unrecorded AS low_at,
         ceil(0.95 * (len(samples) - 1))::BIGINT + $unrecorded AS high_at
  FROM judged
)
SELECT metric, route_port, backend, n,
       CASE WHEN low_at >= 0 THEN samples[low_at + 1] END AS low,
       CASE WHEN high_at <= n - 1 THEN samples[high_at + 1] END AS high
FROM ranked;
