-- How fast each backend answered, at every percentile 0..100: the CDF chart. UDP: device send to backend ACK. HTTP:
-- each backend's own answer time, and the client's latency through the proxy (the live path) as one more series.
SELECT backend, quantile_cont(ack_latency_ms, [0.00, 0.01, 0.02, 0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 0.98, 0.99, 0.995, 0.999, 1.00]) AS points
FROM packet_parity WHERE run_id = $run_id AND ack_latency_ms IS NOT NULL
GROUP BY backend
UNION ALL
SELECT backend, quantile_cont((answered_ns - received_ns) / 1e6, [0.00, 0.01, 0.02, 0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 0.98, 0.99, 0.995, 0.999, 1.00])
FROM http_receipts WHERE run_id = $run_id AND answered_ns IS NOT NULL
GROUP BY backend
UNION ALL
SELECT 'client (live path)', quantile_cont((answered_ns - actual_ns) / 1e6, [0.00, 0.01, 0.02, 0.05, 0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 0.98, 0.99, 0.995, 0.999, 1.00])
FROM http_sends WHERE run_id = $run_id AND answered_ns IS NOT NULL
HAVING count(*) > 0
ORDER BY backend;
