-- reads: packet_parity
-- writes: packet_parity
-- The devices' view, first pass: the ACK a device got against the one the reference backend sent for that request.
-- Identical bytes match here; differing ones are compared field by field afterwards (07c, then TypeScript).
UPDATE packet_parity
SET device_ack_match = (device_ack_hash = ack_hash)
WHERE run_id = $run_id AND backend = $reference AND device_acked AND acked;
