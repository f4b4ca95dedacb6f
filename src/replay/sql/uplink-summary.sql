-- What a replay needs to know before it starts: the uplink's devices (replay-uplink.sql), packet count and time span.
SELECT
  s.ip || ':' || p.src_port AS device,
  count(*) AS packets,
  sum(p.wire_bytes) AS payload_bytes,
  min(p.ts_ns) AS first_ts_ns,
  max(p.ts_ns) AS last_ts_ns,
  -- A device that sends to one route port only gets a socket connected to it (no address lookup per send).
  CASE WHEN count(DISTINCT p.dst_port) = 1 THEN min(p.dst_port) ELSE 0 END AS only_route_port
FROM replay_uplink($capture_id, $route_ports, NULL) p
JOIN capture_addresses s ON s.capture_id = p.capture_id AND s.address_id = p.src_address
GROUP BY ALL
ORDER BY device;
