-- reads: observations
-- writes: receipts
-- What each backend received (leg relay>X), numbered like the uplink. Narrow on purpose: a window sorts every
-- column it carries.
CREATE OR REPLACE TEMP TABLE receipts AS
SELECT split_part(leg, '>', 2) AS backend, route_port, payload_hash, ts_ns, src_ip, src_port,
       row_number() OVER (PARTITION BY leg, route_port, payload_hash ORDER BY ts_ns) AS occurrence
FROM observations
WHERE run_id = $run_id AND leg LIKE 'relay>%' AND leg <> 'relay>device';
