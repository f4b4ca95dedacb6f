-- reads: packet_parity_numbered, packet_parity_names, observations
-- writes: -
-- The ACK pairs whose bytes differ: both payloads, for the field-aware comparison. packet_parity keeps hashes only;
-- the bytes are looked up in the observations for these few hashes.
WITH names AS (SELECT field, no, name FROM packet_parity_names WHERE run_id = $run_id),
-- Numbered rows, named once they are the few that differ.
pairs AS (
  SELECT p.uplink_id, b.name AS backend, p.route_port, d.name AS device, r.ack_hash AS reference_hash, p.ack_hash
  FROM packet_parity_numbered p
  JOIN packet_parity_numbered r ON r.run_id = p.run_id AND r.uplink_id = p.uplink_id AND r.backend_no = $reference_no
  JOIN names b ON b.field = 'backend' AND b.no = p.backend_no
  JOIN names d ON d.field = 'device' AND d.no = p.device_no
  WHERE p.run_id = $run_id AND p.backend_no <> $reference_no AND p.ack_match = false
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
