-- reads: observations
-- writes: backend_acks
-- What each backend answered (leg X>relay), to the relay socket it received the request on. A reply is tied to
-- its request by the request's payload hash where the observer knew it (a simulated backend does), else by the
-- protocol's match key: `corr` carries whichever this backend's observer gives.
CREATE OR REPLACE TEMP TABLE backend_acks AS
WITH acks AS (
  SELECT split_part(leg, '>', 1) AS backend, route_port, dst_ip, dst_port, match_key, reply_to_hash,
         ts_ns, kind, payload_hash, payload
  FROM observations
  WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay'
)
SELECT *, CASE WHEN reply_to_hash IS NOT NULL THEN 'h:' || reply_to_hash ELSE 'k:' || coalesce(match_key, '') END AS corr
FROM acks;
