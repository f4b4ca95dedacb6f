-- reads: packet_parity
-- writes: -
-- The ACK pairs whose bytes differ: both payloads, for the field-aware comparison.
SELECT p.uplink_id, p.backend, p.route_port, p.device, r.ack_payload AS reference_ack, p.ack_payload AS ack
FROM packet_parity p
JOIN packet_parity r ON r.run_id = p.run_id AND r.uplink_id = p.uplink_id AND r.backend = $reference
WHERE p.run_id = $run_id AND p.backend <> $reference AND p.ack_match = false;
