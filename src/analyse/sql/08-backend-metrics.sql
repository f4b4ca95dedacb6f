-- reads: packet_parity, receipt_counts, extra_answers
-- writes: -
-- Delivery, latency and ACKs per route and backend. ACK latency is the backend's own time (its receipt to its
-- answer, both seen at its side): what the relay and the harness add is judged apart, as relay_added_latency.
-- A receipt no uplink packet was matched to (05: k-th copy to k-th send) is a duplicate: what a backend received
-- beyond what was sent, per route.
WITH
-- What each backend answered beyond what it was asked (05a), per route.
extra AS (SELECT backend, route_port, sum(extra) AS extra_acks FROM extra_answers GROUP BY ALL),
-- Each latency's percentiles are taken in one call: a list of quantiles sorts the column once, three calls three times.
per_route AS MATERIALIZED (
  SELECT
    p.route_port,
    p.backend,
    count(*) AS sent,
    count(*) FILTER (WHERE delivered) AS delivered,
    count(*) FILTER (WHERE NOT delivered) AS lost,
    coalesce(any_value(d.received), 0) - count(*) FILTER (WHERE delivered) AS duplicated_route,
    coalesce(any_value(d.extra_copies), 0) AS extra_copies_route,
    count(*) FILTER (WHERE reordered) AS reordered,
    quantile_cont(forward_latency_ms, [0.5, 0.95, 0.99]) AS forward,
    max(forward_latency_ms) AS forward_max,
    count(*) FILTER (WHERE wants_ack AND delivered) AS ack_expected,
    count(*) FILTER (WHERE acked) AS acked,
    count(*) FILTER (WHERE ack_kind = 'nak') AS naks,
    coalesce(any_value(x.extra_acks), 0) AS extra_acks,
    quantile_cont(backend_ack_latency_ms, [0.5, 0.95, 0.99]) AS ack,
    max(backend_ack_latency_ms) AS ack_max,
    count(*) FILTER (WHERE ack_match IS NOT NULL) AS ack_compared,
    count(*) FILTER (WHERE ack_match = false) AS ack_mismatched,
    -- Delivered to both and answered by one only (05c): a mismatch too, parity being what devices would be told.
    count(*) FILTER (WHERE one_sided_ack) AS one_sided_route
  FROM packet_parity p
  LEFT JOIN receipt_counts d ON d.backend = p.backend AND d.route_port = p.route_port
  LEFT JOIN extra x ON x.backend = p.backend AND x.route_port = p.route_port
  WHERE p.run_id = $run_id AND p.backend <> $no_backend
  GROUP BY p.route_port, p.backend
),
carriers AS (SELECT route_port, count(*) AS backends FROM per_route GROUP BY route_port),
-- Packets that reached none of their route's backends: lost on the way to the relay or at it, before its copies (or
-- by every backend alike, which a run cannot tell from it). They are the relay's finding (unreached_rate), in no
-- backend's drop rate: a backend is judged on what it lost that another received. A route one backend carries has
-- none, its loss being the backend's as before. Only lost rows are grouped: few in a run worth passing.
unreached AS (
  SELECT route_port, count(*) AS unreached
  FROM (
    SELECT route_port, uplink_id, count(*) AS lost_at
    FROM packet_parity
    WHERE run_id = $run_id AND backend <> $no_backend AND NOT delivered
    GROUP BY route_port, uplink_id
  )
  JOIN carriers USING (route_port)
  WHERE backends >= 2 AND lost_at = backends
  GROUP BY route_port
)
SELECT p.* EXCLUDE (forward, ack),
       forward[1] AS forward_p50, forward[2] AS forward_p95, forward[3] AS forward_p99,
       ack[1] AS ack_p50, ack[2] AS ack_p95, ack[3] AS ack_p99,
       coalesce(u.unreached, 0) AS unreached,
       lost - coalesce(u.unreached, 0) AS lost_apart,
       c.backends AS route_backends
FROM per_route p
JOIN carriers c USING (route_port)
LEFT JOIN unreached u USING (route_port)
ORDER BY route_port, backend;
