-- reads: ws_steps, ws_sends
-- writes: -
-- Frames fed to the agent in each step's window.
SELECT w.step_no, count(s.seq) AS sent
FROM ws_steps w
LEFT JOIN ws_sends s ON s.run_id = $run_id AND s.actual_ns >= w.from_ns AND s.actual_ns < w.to_ns
GROUP BY w.step_no
ORDER BY w.step_no;
