-- Packets sent, and received by each backend, per window of $window_s seconds over all routes: a backend's gap shows
-- as a dip. The window is chosen by the report so that a run of any length has 20 to 60 of them.
SELECT floor((sent_ns - $start_ns) / ($window_s * 1e9)) * $window_s AS window_start_s, backend,
       count(*) AS sent, count(*) FILTER (WHERE delivered) AS delivered
FROM packet_parity WHERE run_id = $run_id
GROUP BY ALL ORDER BY window_start_s, backend;
