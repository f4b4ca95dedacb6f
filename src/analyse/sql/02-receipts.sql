-- reads: observations
-- writes: receipts
-- What each backend received (leg relay>X), numbered like the uplink. Narrow on purpose: a window sorts every
-- column it carries, so the relay's socket travels as one hash of its address and port (all 05 needs of it), and
-- the partition is one 64-bit hash of (leg, route, payload hash): sorting by a string column cost a third of the step.
-- Most payloads reach a backend once: only those that came more than once are numbered by a window (a sort), the
-- rest are the first copy, found by one hash aggregate (numbering every receipt was 40% slower).
CREATE OR REPLACE TEMP TABLE receipts AS
WITH received AS MATERIALIZED (
  SELECT split_part(leg, '>', 2) AS backend, route_port, payload_hash, ts_ns, hash(src_ip, src_port) AS relay_socket,
         hash(leg, route_port, payload_hash) AS copy_key
  FROM observations
  WHERE run_id = $run_id AND leg LIKE 'relay>%' AND leg <> 'relay>device'
),
repeated AS (SELECT copy_key FROM received GROUP BY copy_key HAVING count(*) > 1)
SELECT received.* EXCLUDE (copy_key), 1 AS occurrence FROM received ANTI JOIN repeated USING (copy_key)
UNION ALL
SELECT received.* EXCLUDE (copy_key), row_number() OVER (PARTITION BY copy_key ORDER BY ts_ns) AS occurrence
FROM received SEMI JOIN repeated USING (copy_key);
