-- reads: receipts
-- writes: receipt_counts
-- How many packets each backend received per route, duplicates included (08 reports what came beyond what was
-- sent): kept apart so that the receipts themselves are released once 05 has matched them (RELEASED_AFTER).
CREATE OR REPLACE TEMP TABLE receipt_counts AS
SELECT backend, route_port, count(*) AS received FROM receipts GROUP BY ALL;
