-- Where a run's time axis starts (its first send, if it has no start time) and how long it is, in seconds.
SELECT coalesce($start_ns, min(sent_ns)) AS start_ns,
       (max(sent_ns) - coalesce($start_ns, min(sent_ns))) / 1e9 AS span_s
FROM packet_parity WHERE run_id = $run_id;
