-- reads: packet_parity_numbered, packet_parity_names
-- writes: -
-- The same per backend over all routes (percentiles cannot be summed from the per-route rows), taken of nanoseconds
-- and given in milliseconds as in 08.
WITH backends AS (
  SELECT no AS backend_no, name AS backend FROM packet_parity_names WHERE run_id = $run_id AND field = 'backend' AND name <> $no_backend
),
overall AS (
  SELECT backend_no,
         quantile_cont(forward_latency_ns, [0.5, 0.95, 0.99]) AS forward, max(forward_latency_ns) / 1e6 AS forward_max,
         quantile_cont(backend_ack_latency_ns, [0.5, 0.95, 0.99]) AS ack, max(backend_ack_latency_ns) / 1e6 AS ack_max
  FROM packet_parity_numbered WHERE run_id = $run_id AND backend_no IN (SELECT backend_no FROM backends)
  GROUP BY backend_no
)
SELECT backend,
       forward[1] / 1e6 AS forward_p50, forward[2] / 1e6 AS forward_p95, forward[3] / 1e6 AS forward_p99, forward_max,
       ack[1] / 1e6 AS ack_p50, ack[2] / 1e6 AS ack_p95, ack[3] / 1e6 AS ack_p99, ack_max
FROM overall JOIN backends USING (backend_no) ORDER BY backend;
