-- What the devices saw, per route and overall (grouping NULL): ACKs relayed to them and the round trip.
SELECT
  route_port,
  count(*) AS sent,
  count(*) FILTER (WHERE wants_ack) AS ack_expected,
  count(*) FILTER (WHERE device_acked) AS device_acked,
  quantile_cont(round_trip_ms, 0.5) AS rtt_p50,
  quantile_cont(round_trip_ms, 0.95) AS rtt_p95,
  quantile_cont(round_trip_ms, 0.99) AS rtt_p99,
  max(round_trip_ms) AS rtt_max
FROM packet_parity
WHERE run_id = $run_id AND backend = $reference
GROUP BY GROUPING SETS ((route_port), ())
ORDER BY route_port NULLS LAST;
