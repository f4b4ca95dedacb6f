-- reads: ws_steps, ws_sends, ws_receipts
-- writes: -
-- Of the frames fed in each window of ws_steps (the whole run without a playbook; with one, each step's and each swap's),
-- how many reached each set of gateways: the sorted list of those that processed the frame, empty for none. A step's
-- frames and what each gateway processed of them are sums over it (playbook.ts); set against the gateways a window
-- sends to, a frame none of them processed was lost before the agent's copies (or by every gateway alike) and is the
-- agent's, in no gateway's loss (frame-reach.ts).
WITH reach AS (
  SELECT w.step_no, s.send_no, array_to_string(list_sort(list_distinct(list(r.gateway) FILTER (WHERE r.gateway IS NOT NULL))), ',') AS gateways
  FROM ws_steps w
  JOIN ws_sends s ON s.run_id = $run_id AND s.actual_ns >= w.from_ns AND s.actual_ns < w.to_ns
  LEFT JOIN ws_receipts r ON r.run_id = $run_id AND r.session_id = s.session_id AND r.stream = s.stream AND r.seq = s.seq
  GROUP BY w.step_no, s.send_no
)
SELECT step_no, gateways, count(*) AS frames
FROM reach
GROUP BY ALL
ORDER BY ALL;
