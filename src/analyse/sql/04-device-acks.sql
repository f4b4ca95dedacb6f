-- reads: observations
-- writes: device_acks
-- What reached the devices (leg relay>device), with the bytes, to compare with what the reference backend answered.
CREATE OR REPLACE TEMP TABLE device_acks AS
SELECT dst_ip, dst_port, coalesce(match_key, '') AS match_key, ts_ns, kind, payload_hash, payload
FROM observations
WHERE run_id = $run_id AND leg = 'relay>device';
