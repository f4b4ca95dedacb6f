-- Where a run's time axis starts (its first send, if it has no start time) and how long it is, in seconds.
WITH sent AS (
  SELECT sent_ns FROM packet_parity WHERE run_id = $run_id
  UNION ALL
  SELECT actual_ns FROM http_sends WHERE run_id = $run_id
)
SELECT coalesce($start_ns, min(sent_ns)) AS start_ns,
       (max(sent_ns) - coalesce($start_ns, min(sent_ns))) / 1e9 AS span_s
FROM sent;
