-- Infers the route ports of a capture: the relay ports devices send their uplink to.
-- Each flow (a pair of endpoints) has a server side: the endpoint that talks to more distinct peers
-- (a relay port hears from many devices, a device talks to one relay), or, on a tie, the lower port
-- (service ports sit below the ephemeral range devices send from).
WITH packets AS (
  SELECT src_ip, src_port, dst_ip, dst_port FROM capture_packets WHERE capture_id = $capture_id
),
endpoint_peers AS (
  SELECT ip, port, count(DISTINCT peer) AS peers FROM (
    SELECT dst_ip AS ip, dst_port AS port, src_ip || ':' || src_port AS peer FROM packets
    UNION ALL
    SELECT src_ip, src_port, dst_ip || ':' || dst_port FROM packets
  ) GROUP BY ip, port
),
flows AS (SELECT DISTINCT src_ip, src_port, dst_ip, dst_port FROM packets)
SELECT DISTINCT CASE
    WHEN d.peers > s.peers THEN f.dst_port
    WHEN d.peers < s.peers THEN f.src_port
    ELSE least(f.src_port, f.dst_port)
  END AS port
FROM flows f
JOIN endpoint_peers d ON d.ip = f.dst_ip AND d.port = f.dst_port
JOIN endpoint_peers s ON s.ip = f.src_ip AND s.port = f.src_port
ORDER BY port;
