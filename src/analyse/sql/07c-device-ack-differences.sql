-- reads: packet_parity_numbered, packet_parity_names, observations
-- writes: -
-- The requests whose device ACK differs in bytes from the reference backend's ACK: both payloads, looked up in the
-- observations (the reference's among the backends' answers, the device's among what reached devices).
WITH names AS (SELECT field, no, name FROM packet_parity_names WHERE run_id = $run_id),
pairs AS (
  SELECT p.uplink_id, b.name AS backend, p.route_port, d.name AS device, p.ack_hash AS reference_hash, p.device_ack_hash
  FROM packet_parity_numbered p
  JOIN names b ON b.field = 'backend' AND b.no = p.backend_no
  JOIN names d ON d.field = 'device' AND d.no = p.device_no
  WHERE p.run_id = $run_id AND p.backend_no = $reference_no AND p.device_ack_match = false
),
payloads AS (
  SELECT leg = 'relay>device' AS at_device, payload_hash, any_value(payload) AS payload
  FROM observations
  WHERE run_id = $run_id AND payload IS NOT NULL AND (
        leg = 'relay>device' AND payload_hash IN (SELECT device_ack_hash FROM pairs)
     OR leg LIKE '%>relay' AND leg <> 'device>relay' AND payload_hash IN (SELECT reference_hash FROM pairs))
  GROUP BY ALL
)
SELECT pairs.uplink_id, pairs.backend, pairs.route_port, pairs.device, r.payload AS reference_ack, d.payload AS ack
FROM pairs
JOIN payloads r ON NOT r.at_device AND r.payload_hash = pairs.reference_hash
JOIN payloads d ON d.at_device AND d.payload_hash = pairs.device_ack_hash
ORDER BY pairs.uplink_id;
