-- reads: packet_parity
-- writes: -
-- The same per backend over all routes (percentiles cannot be summed from the per-route rows).
SELECT
  backend,
  quantile_cont(forward_latency_ms, 0.5) AS forward_p50,
  quantile_cont(forward_latency_ms, 0.95) AS forward_p95,
  quantile_cont(forward_latency_ms, 0.99) AS forward_p99,
  max(forward_latency_ms) AS forward_max,
  quantile_cont(backend_ack_latency_ms, 0.5) AS ack_p50,
  quantile_cont(backend_ack_latency_ms, 0.95) AS ack_p95,
  quantile_cont(backend_ack_latency_ms, 0.99) AS ack_p99,
  max(backend_ack_latency_ms) AS ack_max
FROM packet_parity WHERE run_id = $run_id AND backend <> $no_backend
GROUP BY backend ORDER BY backend;
