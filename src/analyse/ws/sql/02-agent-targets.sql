-- reads: ws_agent_targets
-- writes: -
-- What the relay agent said of each target at the end of the run, and the largest queue it was seen holding.
SELECT gateway, url, sent, acked, failed, dropped, max_queue, ack_p50_ms, ack_p95_ms
FROM ws_agent_targets
WHERE run_id = $run_id
ORDER BY gateway;
