-- reads: packet_parity
-- writes: -
-- The same per backend over all routes (percentiles cannot be summed from the per-route rows).
WITH overall AS (
  SELECT backend,
         quantile_cont(forward_latency_ms, [0.5, 0.95, 0.99]) AS forward, max(forward_latency_ms) AS forward_max,
         quantile_cont(backend_ack_latency_ms, [0.5, 0.95, 0.99]) AS ack, max(backend_ack_latency_ms) AS ack_max
  FROM packet_parity WHERE run_id = $run_id AND backend <> $no_backend
  GROUP BY backend
)
SELECT backend,
       forward[1] AS forward_p50, forward[2] AS forward_p95, forward[3] AS forward_p99, forward_max,
       ack[1] AS ack_p50, ack[2] AS ack_p95, ack[3] AS ack_p99, ack_max
FROM overall ORDER BY backend;
