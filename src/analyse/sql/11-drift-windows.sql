-- reads: packet_parity
-- writes: drift_windows
-- Sent and delivered per backend in 10 s windows from the first send: drift that grows over time shows.
INSERT INTO drift_windows
SELECT $run_id, floor((sent_ns - $start_ns) / 1e10) * 10 AS window_start_s, route_port, backend,
       count(*), count(*) FILTER (WHERE delivered)
FROM packet_parity WHERE run_id = $run_id
GROUP BY ALL;
