-- The most uplink packets (replay-uplink.sql) any window of $window_ns of the capture holds (a second of the replay at
-- its speed), counted in half windows: the busiest two side by side. That is at least two thirds of the true sliding
-- maximum and never above it, in one hash aggregate over the uplink instead of a sort.
WITH halves AS (
  SELECT (ts_ns - $first_ts_ns) // ($window_ns // 2) AS half, count(*) AS packets
  FROM replay_uplink($capture_id, $route_ports, $devices)
  GROUP BY half
)
SELECT coalesce(max(a.packets + coalesce(b.packets, 0)), 0) AS packets
FROM halves a LEFT JOIN halves b ON b.half = a.half + 1;
