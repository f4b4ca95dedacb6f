-- reads: observations
-- writes: -
-- The backends a run's observations show: the X of relay>X and X>relay legs.
-- The legs are found first: the names are taken apart once per leg, not once per observation.
SELECT DISTINCT CASE WHEN leg LIKE 'relay>%' THEN split_part(leg, '>', 2) ELSE split_part(leg, '>', 1) END AS backend
FROM (SELECT DISTINCT leg FROM observations WHERE run_id = $run_id AND leg NOT IN ('relay>device', 'device>relay'))
ORDER BY backend;
