-- Infers the route ports of a capture: the relay ports devices send their uplink to (capture_flows: capture-flows.sql).
-- Each flow (a pair of endpoints) has a server side: the endpoint that talks to more distinct peers
-- (a relay port hears from many devices, a device talks to one relay), or, on a tie, the lower port
-- (service ports sit below the ephemeral range devices send from).
WITH flows AS (
  SELECT src_address, src_port, dst_address, dst_port FROM capture_flows
),
endpoint_peers AS (
  SELECT address, port, count(DISTINCT (peer_address, peer_port)) AS peers FROM (
    SELECT dst_address AS address, dst_port AS port, src_address AS peer_address, src_port AS peer_port FROM flows
    UNION ALL
    SELECT src_address, src_port, dst_address, dst_port FROM flows
  ) GROUP BY address, port
)
SELECT DISTINCT CASE
    WHEN d.peers > s.peers THEN f.dst_port
    WHEN d.peers < s.peers THEN f.src_port
    ELSE least(f.src_port, f.dst_port)
  END AS port
FROM flows f
JOIN endpoint_peers d ON d.address = f.dst_address AND d.port = f.dst_port
JOIN endpoint_peers s ON s.address = f.src_address AND s.port = f.src_port
ORDER BY port;
