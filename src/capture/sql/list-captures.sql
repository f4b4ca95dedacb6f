-- One row per capture in the store: what `parity captures` prints.
-- Devices are the distinct senders of uplink (datagrams to a route port at the relay's address, when it is known). An unfinished capture (its writer is still
-- at work, or was killed) has no counts yet: what it holds is counted from its committed packets.
SELECT
  c.capture_id,
  c.name,
  c.source,
  c.format,
  c.frames,
  c.udp_datagrams,
  CASE WHEN c.finished THEN c.kept_datagrams
       ELSE (SELECT count(*) FROM capture_packets p WHERE p.capture_id = c.capture_id) END AS kept_datagrams,
  c.truncated_datagrams,
  TRY_CAST(json_extract(c.decode_stats, '$.captureDrops') AS BIGINT) AS capture_drops,
  (SELECT count(*) FROM http_exchanges h WHERE h.capture_id = c.capture_id) AS http_exchanges,
  (SELECT count(*) FROM ws_frames w WHERE w.capture_id = c.capture_id) AS ws_frames,
  (SELECT count(*) FROM pg_statements s WHERE s.capture_id = c.capture_id) AS pg_statements,
  c.unsupported_frames,
  coalesce(c.route_ports, []) AS route_ports,
  (SELECT count(DISTINCT (p.src_address, p.src_port)) FROM capture_packets p
     WHERE p.capture_id = c.capture_id AND list_contains(c.route_ports, p.dst_port)
       AND (c.relay_address_ids IS NULL OR list_contains(c.relay_address_ids, p.dst_address))) AS devices,
  (SELECT count(*) FROM capture_packets p
     WHERE p.capture_id = c.capture_id AND list_contains(c.route_ports, p.dst_port)
       AND (c.relay_address_ids IS NULL OR list_contains(c.relay_address_ids, p.dst_address))) AS uplink_datagrams,
  (SELECT list(a.ip ORDER BY a.ip) FROM capture_addresses a
     WHERE a.capture_id = c.capture_id AND list_contains(c.relay_address_ids, a.address_id)) AS relay_addresses,
  CASE WHEN c.finished THEN c.first_ts_ns
       ELSE (SELECT min(p.ts_ns) FROM capture_packets p WHERE p.capture_id = c.capture_id) END AS first_ts_ns,
  CASE WHEN c.finished THEN c.last_ts_ns
       ELSE (SELECT max(p.ts_ns) FROM capture_packets p WHERE p.capture_id = c.capture_id) END AS last_ts_ns,
  c.partial,
  c.error,
  c.finished,
  c.owner_pid,
  c.owner_host,
  c.imported_at
FROM captures c
WHERE $name IS NULL OR c.name = $name
ORDER BY c.capture_id;
