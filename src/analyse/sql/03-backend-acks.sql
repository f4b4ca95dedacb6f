-- reads: observations
-- writes: backend_acks
-- What each backend answered (leg X>relay), to the relay socket it received the request on. A reply is tied to
-- its request by the request's payload hash where the observer knew it (a simulated backend does), else by the
-- protocol's match key: `corr` is whichever this backend's observer gives, and (key_a, key_b) the whole key
-- (backend, route, relay socket, kind of correlation, corr) that 05 looks answers up by.
CREATE OR REPLACE TEMP TABLE backend_acks AS
WITH acks AS (
  SELECT split_part(leg, '>', 1) AS backend, route_port, dst_ip, dst_port, reply_to_hash IS NOT NULL AS by_hash,
         coalesce(reply_to_hash, hash(coalesce(match_key, ''))) AS corr, ts_ns, kind, payload_hash
  FROM observations
  WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay'
)
SELECT backend, by_hash, ts_ns, kind, payload_hash,
       key_a(backend, route_port, hash(dst_ip, dst_port), 0, by_hash, corr) AS key_a,
       key_b(backend, route_port, hash(dst_ip, dst_port), 0, by_hash, corr) AS key_b
FROM acks;
