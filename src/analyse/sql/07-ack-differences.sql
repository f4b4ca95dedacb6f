-- reads: packet_parity, observations
-- writes: -
-- The ACK pairs whose bytes differ: both payloads, for the field-aware comparison. packet_parity keeps hashes only;
-- the bytes are looked up in the observations for these few hashes.
WITH pairs AS (
  SELECT p.uplink_id, p.backend, p.route_port, p.device, r.ack_hash AS reference_hash, p.ack_hash
  FROM packet_parity p
  JOIN packet_parity r ON r.run_id = p.run_id AND r.uplink_id = p.uplink_id AND r.backend = $reference
  WHERE p.run_id = $run_id AND p.backend <> $reference AND p.ack_match = false
),
payloads AS (
  SELECT payload_hash, any_value(payload) AS payload
  FROM observations
  WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay' AND payload IS NOT NULL
    AND payload_hash IN (SELECT reference_hash FROM pairs UNION SELECT ack_hash FROM pairs)
  GROUP BY payload_hash
)
SELECT pairs.uplink_id, pairs.backend, pairs.route_port, pairs.device, r.payload AS reference_ack, o.payload AS ack
FROM pairs
JOIN payloads r ON r.payload_hash = pairs.reference_hash
JOIN payloads o ON o.payload_hash = pairs.ack_hash
ORDER BY pairs.uplink_id, pairs.backend;
