-- reads: observations
-- writes: ack_keying
-- Per backend: are its replies (leg X>relay) tied to their requests by the request's payload hash? A simulated
-- backend's observer records it; otherwise replies are tied by the protocol's match key (05).
CREATE OR REPLACE TEMP TABLE ack_keying AS
SELECT split_part(leg, '>', 1) AS backend, bool_and(reply_to_hash IS NOT NULL) AS by_hash
FROM observations
WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay'
GROUP BY ALL;
