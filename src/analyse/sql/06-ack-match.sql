-- reads: packet_parity
-- writes: packet_parity
-- ACK parity, first pass: for each request both the reference backend and another one answered, identical ACK
-- bytes match. Differing bytes are compared field by field afterwards (the protocol's ignore-mask, in TypeScript).
UPDATE packet_parity AS p
SET ack_match = (p.ack_hash = r.ack_hash)
FROM packet_parity AS r
WHERE p.run_id = $run_id AND r.run_id = $run_id
  AND r.uplink_id = p.uplink_id AND r.backend = $reference AND p.backend <> $reference
  AND p.acked AND r.acked;
