-- Packets each backend received per 10 s window, over all routes: a backend's gap shows as a dip.
SELECT window_start_s, backend, sum(sent) AS sent, sum(delivered) AS delivered
FROM drift_windows WHERE run_id = $run_id
GROUP BY ALL ORDER BY window_start_s, backend;
