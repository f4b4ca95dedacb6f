-- reads: packet_parity
-- writes: -
-- What the devices saw, per route and overall (grouping NULL), on the reference backend's rows: ACKs relayed to them,
-- whether each was the reference backend's answer, the round trip, and what the relay added to it.
SELECT
  route_port,
  count(*) AS sent,
  count(*) FILTER (WHERE wants_ack) AS ack_expected,
  count(*) FILTER (WHERE device_acked) AS device_acked,
  count(*) FILTER (WHERE device_ack_match IS NOT NULL) AS device_compared,
  count(*) FILTER (WHERE device_ack_match = false) AS device_mismatched,
  quantile_cont(round_trip_ms, 0.5) AS rtt_p50,
  quantile_cont(round_trip_ms, 0.95) AS rtt_p95,
  quantile_cont(round_trip_ms, 0.99) AS rtt_p99,
  max(round_trip_ms) AS rtt_max,
  quantile_cont(relay_added_ms, 0.5) AS relay_added_p50,
  quantile_cont(relay_added_ms, 0.95) AS relay_added_p95,
  quantile_cont(relay_added_ms, 0.99) AS relay_added_p99
FROM packet_parity
WHERE run_id = $run_id AND backend = $reference
GROUP BY GROUPING SETS ((route_port), ())
ORDER BY route_port NULLS LAST;
