-- reads: packet_parity_numbered, packet_parity_names
-- writes: -
-- What the devices saw, per route ($per_route) or over all routes (route_port NULL), on the reference backend's rows:
-- ACKs relayed to them, whether each was the reference backend's answer, the round trip, and what the relay added to
-- it, and the answers it did not pass on. Run over all routes only where the run has more than one: with one, that
-- route's row is the whole run's (grouping sets would sort every latency twice).
WITH seen AS (
  SELECT
    CASE WHEN $per_route THEN route_port END AS route_port,
    count(*) AS sent,
    count(*) FILTER (WHERE wants_ack) AS ack_expected,
    count(*) FILTER (WHERE device_acked) AS device_acked,
    count(*) FILTER (WHERE device_ack_match IS NOT NULL) AS device_compared,
    count(*) FILTER (WHERE device_ack_match = false) AS device_mismatched,
    -- Requests the reference answered (at the backend) whose answer never reached the device: the relay's doing,
    -- with how long the reference took over them, since a relay gives up on an answer after its response timeout.
    count(*) FILTER (WHERE wants_ack AND NOT device_acked AND acked) AS unrelayed,
    -- Percentiles of nanoseconds (packet_parity_numbered), given in milliseconds.
    quantile_cont(backend_ack_latency_ns, 0.5) FILTER (WHERE wants_ack AND NOT device_acked AND acked) / 1e6 AS unrelayed_answer_p50,
    quantile_cont(round_trip_ns, [0.5, 0.95, 0.99]) AS rtt,
    max(round_trip_ns) / 1e6 AS rtt_max,
    quantile_cont(relay_added_ns, [0.5, 0.95, 0.99]) AS relay_added
  FROM packet_parity_numbered
  WHERE run_id = $run_id AND backend_no = (SELECT no FROM packet_parity_names WHERE run_id = $run_id AND field = 'backend' AND name = $reference)
  GROUP BY ALL
)
SELECT * EXCLUDE (rtt, relay_added),
       rtt[1] / 1e6 AS rtt_p50, rtt[2] / 1e6 AS rtt_p95, rtt[3] / 1e6 AS rtt_p99,
       relay_added[1] / 1e6 AS relay_added_p50, relay_added[2] / 1e6 AS relay_added_p95, relay_added[3] / 1e6 AS relay_added_p99
FROM seen
ORDER BY route_port NULLS LAST;
