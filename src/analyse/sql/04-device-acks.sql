-- What reached the devices (leg relay>device).
CREATE OR REPLACE TEMP TABLE device_acks AS
SELECT dst_ip, dst_port, coalesce(match_key, '') AS match_key, ts_ns, kind
FROM observations
WHERE run_id = $run_id AND leg = 'relay>device';
