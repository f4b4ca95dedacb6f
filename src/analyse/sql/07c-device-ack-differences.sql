-- reads: packet_parity
-- writes: -
-- The requests whose device ACK differs in bytes from the reference backend's ACK: both payloads.
SELECT uplink_id, backend, route_port, device, ack_payload AS reference_ack, device_ack_payload AS ack
FROM packet_parity
WHERE run_id = $run_id AND backend = $reference AND device_ack_match = false;
