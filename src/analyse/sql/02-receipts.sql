-- reads: observations, packet_parity_names
-- writes: receipts
-- What each backend received (leg relay>X), numbered like the uplink, the backend by its number (00b). Narrow on
-- purpose: a window sorts every column it carries, so the relay's socket travels as one hash of its address and port (all 05 needs of it), and
-- the partition is one 64-bit hash of (leg, route, payload hash): sorting by a string column cost a third of the step.
-- Most payloads reach a backend once: only those that came more than once are numbered by a window (a sort), the
-- rest are the first copy (numbering every receipt was 40% slower).
CREATE OR REPLACE TEMP TABLE receipts AS
WITH received AS MATERIALIZED (
  SELECT n.no AS backend_no, route_port, payload_hash, ts_ns, hash(src_ip, src_port) AS relay_socket,
         hash(leg, route_port, payload_hash) AS copy_key
  FROM observations o JOIN packet_parity_names n ON n.run_id = $run_id AND n.field = 'backend' AND o.leg = 'relay>' || n.name
  WHERE o.run_id = $run_id AND leg LIKE 'relay>%' AND leg <> 'relay>device'
),
-- The keys that came more than once, as neighbours once sorted: a hash aggregate of one group per key grew 21x for 10x
-- the keys (0.58 s of CPU for 4M, 12.2 s for 40M) where this sort grew 10x (0.22 s, 2.2 s). Only the key goes through
-- the sort: read from `received` as is, the window carried all of its columns (0.65 s for 4M).
repeated AS (
  SELECT DISTINCT copy_key
  FROM (SELECT copy_key, lead(copy_key) OVER (ORDER BY copy_key) AS next_key FROM (SELECT copy_key FROM received))
  WHERE copy_key = next_key
)
SELECT received.* EXCLUDE (copy_key), 1 AS occurrence FROM received ANTI JOIN repeated USING (copy_key)
UNION ALL
SELECT received.* EXCLUDE (copy_key), row_number() OVER (PARTITION BY copy_key ORDER BY ts_ns) AS occurrence
FROM received SEMI JOIN repeated USING (copy_key);
