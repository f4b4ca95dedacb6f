-- reads: relay_samples
-- writes: -
-- The deepest the relay's queue got, by its own account: requests waiting for an ACK across targets.
SELECT max(list_sum(CAST(json_extract(body, '$.targets[*].queueSize') AS INTEGER[]))) AS max_queue,
       count(*) AS samples
FROM relay_samples WHERE run_id = $run_id AND endpoint = '/debug/targets';
