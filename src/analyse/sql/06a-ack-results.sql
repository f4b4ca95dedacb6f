-- reads: -
-- writes: ack_results
-- The field-aware comparison's results, appended from TypeScript, then written back into packet_parity (06b for backends, 07d for devices).
CREATE OR REPLACE TEMP TABLE ack_results (uplink_id BIGINT, backend VARCHAR, matched BOOLEAN, fields VARCHAR);
