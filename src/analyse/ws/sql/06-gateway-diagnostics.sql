-- reads: ws_gateway_diagnostics
-- writes: -
-- Per real gateway that serves the fan-out spec's diagnostics: what it says it processed of the run's sessions (frames
-- in over its streams, duplicates and out-of-order frames over its sessions), and for how many sessions it could not
-- be asked.
SELECT gateway,
       sum(frames_in) FILTER (WHERE stream <> '*' AND error IS NULL) AS frames_in,
       sum(duplicates) FILTER (WHERE stream = '*' AND error IS NULL) AS duplicates,
       sum(out_of_order) FILTER (WHERE stream = '*' AND error IS NULL) AS out_of_order,
       count(*) FILTER (WHERE error IS NOT NULL) AS unanswered,
       min(error) AS first_error
FROM ws_gateway_diagnostics
WHERE run_id = $run_id
GROUP BY gateway
ORDER BY gateway;
