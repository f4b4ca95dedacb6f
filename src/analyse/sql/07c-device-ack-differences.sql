-- reads: packet_parity, observations
-- writes: -
-- The requests whose device ACK differs in bytes from the reference backend's ACK: both payloads, looked up in the
-- observations (the reference's among the backends' answers, the device's among what reached devices).
WITH pairs AS (
  SELECT uplink_id, backend, route_port, device, ack_hash AS reference_hash, device_ack_hash
  FROM packet_parity
  WHERE run_id = $run_id AND backend = $reference AND device_ack_match = false
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
