-- reads: backend_acks
-- writes: ack_keying
-- Per backend: are its replies tied by request hash?
CREATE OR REPLACE TEMP TABLE ack_keying AS
SELECT backend, bool_and(by_hash) AS by_hash FROM backend_acks GROUP BY backend;
