-- What a replay needs to know before it starts: the uplink's devices, packet count and time span.
SELECT
  s.ip || ':' || p.src_port AS device,
  count(*) AS packets,
  min(p.ts_ns) AS first_ts_ns,
  max(p.ts_ns) AS last_ts_ns
FROM capture_packets p
JOIN capture_addresses s ON s.capture_id = p.capture_id AND s.address_id = p.src_address
WHERE p.capture_id = $capture_id AND list_contains($route_ports::INTEGER[], p.dst_port)
GROUP BY ALL
ORDER BY device;
