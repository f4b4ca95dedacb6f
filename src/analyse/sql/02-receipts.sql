-- reads: observations
-- writes: receipts
-- What each backend received (leg relay>X), numbered like the uplink. Narrow on purpose: a window sorts every
-- column it carries, so the relay's socket travels as one hash of its address and port (all 05 needs of it), and
-- the partition is one 64-bit hash of (leg, route, payload hash): sorting by a string column cost a third of the step.
CREATE OR REPLACE TEMP TABLE receipts AS
SELECT split_part(leg, '>', 2) AS backend, route_port, payload_hash, ts_ns, hash(src_ip, src_port) AS relay_socket,
       row_number() OVER (PARTITION BY hash(leg, route_port, payload_hash) ORDER BY ts_ns) AS occurrence
FROM observations
WHERE run_id = $run_id AND leg LIKE 'relay>%' AND leg <> 'relay>device';
