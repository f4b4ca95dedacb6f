-- reads: packet_parity_numbered, packet_parity_names, receipt_counts, extra_answers
-- writes: -
-- Delivery, latency and ACKs per route and backend. ACK latency is the backend's own time (its receipt to its
-- answer, both seen at its side): what the relay and the harness add is judged apart, as relay_added_latency.
-- A receipt no uplink packet was matched to (05: k-th copy to k-th send) is a duplicate: what a backend received
-- beyond what was sent, per route.
WITH
-- What each backend answered beyond what it was asked (05a), per route.
extra AS (SELECT backend, route_port, sum(extra) AS extra_acks FROM extra_answers GROUP BY ALL),
-- The run's backends by number (00b), the devices' pseudo-backend left out. Rows are grouped by number and named
-- after: a name is a string through every row's grouping.
backends AS (SELECT no AS backend_no, name AS backend FROM packet_parity_names WHERE run_id = $run_id AND field = 'backend' AND name <> $no_backend),
nak AS (SELECT no FROM packet_parity_names WHERE run_id = $run_id AND field = 'ack_kind' AND name = 'nak'),
-- Each latency's percentiles are taken in one call: a list of quantiles sorts the column once, three calls three times.
counted AS (
  SELECT
    route_port,
    backend_no,
    count(*) AS sent,
    count(*) FILTER (WHERE delivered) AS delivered,
    count(*) FILTER (WHERE NOT delivered) AS lost,
    count(*) FILTER (WHERE reordered) AS reordered,
    quantile_cont(forward_latency_ns, [0.5, 0.95, 0.99]) AS forward,
    max(forward_latency_ns) / 1e6 AS forward_max,
    count(*) FILTER (WHERE wants_ack AND delivered) AS ack_expected,
    count(*) FILTER (WHERE acked) AS acked,
    count(*) FILTER (WHERE ack_kind_no = (FROM nak)) AS naks,
    quantile_cont(backend_ack_latency_ns, [0.5, 0.95, 0.99]) AS ack,
    max(backend_ack_latency_ns) / 1e6 AS ack_max,
    count(*) FILTER (WHERE ack_match IS NOT NULL) AS ack_compared,
    count(*) FILTER (WHERE ack_match = false) AS ack_mismatched,
    -- Delivered to both and answered by one only (05c): a mismatch too, parity being what devices would be told.
    count(*) FILTER (WHERE one_sided_ack) AS one_sided_route
  FROM packet_parity_numbered
  WHERE run_id = $run_id AND backend_no IN (SELECT backend_no FROM backends)
  GROUP BY route_port, backend_no
),
per_route AS MATERIALIZED (
  SELECT
    c.route_port,
    b.backend,
    c.sent,
    c.delivered,
    c.lost,
    coalesce(d.received, 0) - c.delivered AS duplicated_route,
    coalesce(d.extra_copies, 0) AS extra_copies_route,
    c.reordered,
    c.forward,
    c.forward_max,
    c.ack_expected,
    c.acked,
    c.naks,
    coalesce(x.extra_acks, 0) AS extra_acks,
    c.ack,
    c.ack_max,
    c.ack_compared,
    c.ack_mismatched,
    c.one_sided_route
  FROM counted c
  JOIN backends b USING (backend_no)
  LEFT JOIN receipt_counts d ON d.backend_no = c.backend_no AND d.route_port = c.route_port
  LEFT JOIN extra x ON x.backend = b.backend AND x.route_port = c.route_port
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
    FROM packet_parity_numbered
    WHERE run_id = $run_id AND backend_no IN (SELECT backend_no FROM backends) AND NOT delivered
    GROUP BY route_port, uplink_id
  )
  JOIN carriers USING (route_port)
  WHERE backends >= 2 AND lost_at = backends
  GROUP BY route_port
)
SELECT p.* EXCLUDE (forward, ack),
       -- The percentiles are taken of nanoseconds (packet_parity_numbered), given in milliseconds.
       forward[1] / 1e6 AS forward_p50, forward[2] / 1e6 AS forward_p95, forward[3] / 1e6 AS forward_p99,
       ack[1] / 1e6 AS ack_p50, ack[2] / 1e6 AS ack_p95, ack[3] / 1e6 AS ack_p99,
       coalesce(u.unreached, 0) AS unreached,
       lost - coalesce(u.unreached, 0) AS lost_apart,
       c.backends AS route_backends
FROM per_route p
JOIN carriers c USING (route_port)
LEFT JOIN unreached u USING (route_port)
ORDER BY route_port, backend;
