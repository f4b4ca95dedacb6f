-- The most uplink packets any window of $window_ns of the capture holds (a second of the replay at its speed), counted
-- in half windows: the busiest two side by side. That is at least two thirds of the true sliding maximum and never
-- above it, in one hash aggregate over the uplink instead of a sort.
-- Uplink and devices as in uplink-packets.sql.
WITH halves AS (
  SELECT ((p.ts_ns - $first_ts_ns) // ($window_ns // 2)) AS half, count(*) AS packets
  FROM capture_packets p
  JOIN captures c ON c.capture_id = p.capture_id
  WHERE p.capture_id = $capture_id
    AND list_contains($route_ports::INTEGER[], p.dst_port)
    AND (c.relay_address_ids IS NULL OR list_contains(c.relay_address_ids, p.dst_address))
    AND ($devices IS NULL OR list_contains($devices::VARCHAR[],
          (SELECT s.ip FROM capture_addresses s WHERE s.capture_id = p.capture_id AND s.address_id = p.src_address) || ':' || p.src_port))
  GROUP BY half
)
SELECT coalesce(max(a.packets + coalesce(b.packets, 0)), 0) AS packets
FROM halves a LEFT JOIN halves b ON b.half = a.half + 1;
