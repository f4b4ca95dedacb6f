-- reads: packet_parity_numbered, packet_parity_names
-- writes: drift_windows
-- Sent and delivered per backend in 10 s windows from the first send: drift that grows over time shows.
INSERT INTO drift_windows
SELECT $run_id, w.window_start_s, w.route_port, n.name, w.sent, w.delivered
FROM (
  SELECT floor((sent_ns - $start_ns) / 1e10) * 10 AS window_start_s, route_port, backend_no,
         count(*) AS sent, count(*) FILTER (WHERE delivered) AS delivered
  FROM packet_parity_numbered WHERE run_id = $run_id
  GROUP BY ALL
) w
JOIN packet_parity_names n ON n.run_id = $run_id AND n.field = 'backend' AND n.no = w.backend_no;
