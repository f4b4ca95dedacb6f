-- reads: receipts, uplink
-- writes: receipt_counts
-- How many packets each backend received per route, duplicates included (08 reports what came beyond what was
-- sent): kept apart so that the receipts themselves are released once 05 has matched them (RELEASED_AFTER).
-- extra_copies: copies of a payload the devices sent on that route beyond as many as they sent of it (its k-th
-- receipt with no k-th send). A payload they never sent (a packet in flight when a recording began) is not counted:
-- only what the relay or the network copied on the way is. Only receipts numbered past 1 are looked up: few in most runs.
CREATE OR REPLACE TEMP TABLE receipt_counts AS
WITH extra AS (
  SELECT r.backend_no, r.route_port, count(*) AS extra_copies
  FROM receipts r
  WHERE r.occurrence > 1
    AND NOT EXISTS (FROM uplink u WHERE u.route_port = r.route_port AND u.payload_hash = r.payload_hash AND u.occurrence = r.occurrence)
    AND EXISTS (FROM uplink u WHERE u.route_port = r.route_port AND u.payload_hash = r.payload_hash AND u.occurrence = 1)
  GROUP BY ALL
)
SELECT c.backend_no, c.route_port, c.received, coalesce(e.extra_copies, 0) AS extra_copies
FROM (SELECT backend_no, route_port, count(*) AS received FROM receipts GROUP BY ALL) c
LEFT JOIN extra e USING (backend_no, route_port);
