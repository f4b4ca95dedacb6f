-- reads: packet_parity_rows, ack_results, packet_parity_names
-- writes: packet_parity_rows
-- What each device got against the reference backend's ACK, after the ignore-mask.
UPDATE packet_parity_rows AS p SET device_ack_match = a.matched, device_mismatch_fields = a.fields
FROM ack_results a JOIN packet_parity_names n ON n.run_id = $run_id AND n.field = 'backend' AND n.name = a.backend
WHERE p.run_id = $run_id AND p.uplink_id = a.uplink_id AND p.backend_no = n.no;
