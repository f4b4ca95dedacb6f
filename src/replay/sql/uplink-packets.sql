-- The uplink of a capture in time order: datagrams to its route ports at the relay's address, from the sampled devices.
-- Offsets are from the capture's first uplink packet, in ns (a DOUBLE is exact to the ns for 104 days).
-- Addresses stay ids (capture_addresses maps them): numbers cross into the replayer a column at a time.
SELECT
  p.idx,
  (p.ts_ns - $first_ts_ns)::DOUBLE AS offset_ns,
  p.src_address,
  p.src_port,
  p.dst_port AS route_port,
  p.payload_hash::DOUBLE AS payload_hash,
  p.payload
FROM capture_packets p
JOIN captures c ON c.capture_id = p.capture_id
WHERE p.capture_id = $capture_id
  AND list_contains($route_ports::INTEGER[], p.dst_port)
  AND (c.relay_address_ids IS NULL OR list_contains(c.relay_address_ids, p.dst_address))
  AND ($devices IS NULL OR list_contains($devices::VARCHAR[],
        (SELECT s.ip FROM capture_addresses s WHERE s.capture_id = p.capture_id AND s.address_id = p.src_address) || ':' || p.src_port))
ORDER BY p.ts_ns, p.idx;
