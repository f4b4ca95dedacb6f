-- What a replay needs to know before it starts: the uplink's devices, packet count and time span.
-- Uplink is what reaches a route port at the relay's own address (captures.relay_address_ids; NULL: any address):
-- in a capture taken on the relay's host, the relay's forwarded copies to its backends are not device uplink.
SELECT
  s.ip || ':' || p.src_port AS device,
  count(*) AS packets,
  sum(p.wire_bytes) AS payload_bytes,
  min(p.ts_ns) AS first_ts_ns,
  max(p.ts_ns) AS last_ts_ns,
  -- A device that sends to one route port only gets a socket connected to it (no address lookup per send).
  CASE WHEN count(DISTINCT p.dst_port) = 1 THEN min(p.dst_port) ELSE 0 END AS only_route_port
FROM capture_packets p
JOIN capture_addresses s ON s.capture_id = p.capture_id AND s.address_id = p.src_address
JOIN captures c ON c.capture_id = p.capture_id
WHERE p.capture_id = $capture_id AND list_contains($route_ports::INTEGER[], p.dst_port)
  AND (c.relay_address_ids IS NULL OR list_contains(c.relay_address_ids, p.dst_address))
GROUP BY ALL
ORDER BY device;
