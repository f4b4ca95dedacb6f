-- reads: backend_acks
-- writes: ack_keying
-- Per backend: are its replies tied by request hash?
CREATE OR REPLACE TEMP TABLE ack_keying AS
SELECT backend, bool_and(reply_to_hash IS NOT NULL) AS by_hash FROM backend_acks GROUP BY backend;
