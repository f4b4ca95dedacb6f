-- reads: drift_windows
-- writes: -
-- The worst 10 s window of drift per backend against the reference: a gap (a backend down for a while) shows here
-- when the overall count hides it.
WITH w AS (SELECT window_start_s, backend, sum(delivered) AS delivered FROM drift_windows WHERE run_id = $run_id GROUP BY ALL)
SELECT o.backend, max(abs(o.delivered - r.delivered) / r.delivered) AS worst
FROM w o JOIN w r ON r.window_start_s = o.window_start_s AND r.backend = $reference
WHERE o.backend <> $reference AND r.delivered > 0 GROUP BY o.backend;
