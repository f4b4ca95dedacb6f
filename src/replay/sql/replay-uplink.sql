-- The uplink a replay sends, as a table macro its queries share (uplink-packets.sql, uplink-summary.sql,
-- uplink-busiest-window.sql): datagrams of capture `of_capture` to one of `to_ports` at the relay's own address
-- (captures.relay_address_ids; NULL: any address), from `from_devices` ('ip:port' each; NULL: every device). In a
-- capture taken on the relay's host, the relay's forwarded copies to its backends are not device uplink.
-- A TEMP macro is its connection's own: each query's connection makes it first.
CREATE OR REPLACE TEMP MACRO replay_uplink(of_capture, to_ports, from_devices) AS TABLE
SELECT p.*
FROM capture_packets p
JOIN captures c ON c.capture_id = p.capture_id
WHERE p.capture_id = of_capture
  AND list_contains(to_ports::INTEGER[], p.dst_port)
  AND (c.relay_address_ids IS NULL OR list_contains(c.relay_address_ids, p.dst_address))
  AND (from_devices IS NULL OR list_contains(from_devices::VARCHAR[],
        (SELECT s.ip FROM capture_addresses s WHERE s.capture_id = p.capture_id AND s.address_id = p.src_address) || ':' || p.src_port));
