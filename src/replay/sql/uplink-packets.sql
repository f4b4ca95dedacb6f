-- The uplink of a capture in time order (replay-uplink.sql), from the sampled devices.
-- Offsets are from the capture's first uplink packet, in ns (a DOUBLE is exact to the ns for 104 days).
-- Addresses stay ids (capture_addresses maps them): numbers cross into the replayer a column at a time.
SELECT
  idx,
  (ts_ns - $first_ts_ns)::DOUBLE AS offset_ns,
  src_address,
  src_port,
  dst_port AS route_port,
  payload_hash::DOUBLE AS payload_hash,
  payload
FROM replay_uplink($capture_id, $route_ports, $devices)
ORDER BY ts_ns, idx;
