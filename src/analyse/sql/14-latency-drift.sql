-- reads: packet_parity
-- writes: -
-- Run only against a baseline: how far each latency compared with it moved between the first and second half of the
-- run (by device send time), per route and backend and per backend overall. The round trip is the devices' view, on
-- the reference backend's rows (backend NULL). What the machine alone moves within a run, it moves between runs too.
WITH middle AS (
  SELECT quantile_disc(sent_ns, 0.5) AS ns FROM packet_parity WHERE run_id = $run_id AND backend = $reference
), halves AS (
  SELECT route_port, backend,
         abs(quantile_cont(backend_ack_latency_ms, 0.95) FILTER (WHERE sent_ns <= m.ns)
           - quantile_cont(backend_ack_latency_ms, 0.95) FILTER (WHERE sent_ns > m.ns)) AS ack_latency_p95_ms,
         abs(quantile_cont(forward_latency_ms, 0.95) FILTER (WHERE sent_ns <= m.ns)
           - quantile_cont(forward_latency_ms, 0.95) FILTER (WHERE sent_ns > m.ns)) AS forward_latency_p95_ms,
         abs(quantile_cont(round_trip_ms, 0.95) FILTER (WHERE sent_ns <= m.ns)
           - quantile_cont(round_trip_ms, 0.95) FILTER (WHERE sent_ns > m.ns)) AS round_trip_p95_ms
  FROM packet_parity, middle m
  WHERE run_id = $run_id AND backend <> $no_backend
  GROUP BY GROUPING SETS ((route_port, backend), (backend))
)
SELECT route_port, backend, 'ack_latency_p95_ms' AS metric, ack_latency_p95_ms AS drift_ms FROM halves
UNION ALL
SELECT route_port, backend, 'forward_latency_p95_ms', forward_latency_p95_ms FROM halves
UNION ALL
SELECT route_port, NULL, 'round_trip_p95_ms', round_trip_p95_ms FROM halves WHERE backend = $reference;
