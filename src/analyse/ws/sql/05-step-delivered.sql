-- reads: ws_steps, ws_sends, ws_receipts
-- writes: -
-- Of the frames fed in each step's window, how many each gateway processed (once each).
SELECT w.step_no, r.gateway, count(DISTINCT (s.session_id, s.stream, s.seq)) AS delivered
FROM ws_steps w
JOIN ws_sends s ON s.run_id = $run_id AND s.actual_ns >= w.from_ns AND s.actual_ns < w.to_ns
JOIN ws_receipts r ON r.run_id = $run_id AND r.session_id = s.session_id AND r.stream = s.stream AND r.seq = s.seq
GROUP BY w.step_no, r.gateway
ORDER BY w.step_no, r.gateway;
