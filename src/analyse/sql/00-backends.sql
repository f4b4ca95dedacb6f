-- reads: observations
-- writes: -
-- The run's legs and how many observations each holds, with the backend each shows (the X of relay>X and X>relay):
-- the names are taken apart once per leg, not once per observation. The count tells a large run (analyse-run.ts).
SELECT leg, observations,
       CASE WHEN leg IN ('relay>device', 'device>relay') THEN NULL
            WHEN leg LIKE 'relay>%' THEN split_part(leg, '>', 2) ELSE split_part(leg, '>', 1) END AS backend
FROM (SELECT leg, count(*) AS observations FROM observations WHERE run_id = $run_id GROUP BY leg)
ORDER BY leg;
