-- reads: packet_parity_stored, ack_results
-- writes: packet_parity_stored
-- Each backend's ACK against the reference's, after the ignore-mask.
UPDATE packet_parity_stored AS p SET ack_match = a.matched, mismatch_fields = a.fields
FROM ack_results a WHERE p.run_id = $run_id AND p.uplink_id = a.uplink_id AND p.backend = a.backend;
