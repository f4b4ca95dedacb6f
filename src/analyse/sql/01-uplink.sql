-- reads: observations, sends, packet_parity_names
-- writes: uplink
-- The run's uplink: the replayer's sends, or for a recorded run the device>relay observations.
-- occurrence numbers identical payloads on a route, so a packet is followed across legs by
-- (route port, payload hash, occurrence): robust to reordering and duplicates (docs/architecture.md, Data model).
-- The device travels as its number (00c) and the socket it sent from as one hash of its address and port, which 05
-- partitions by and the devices' ACKs are keyed by (05b, 05d): no string is carried or hashed again after this step.
-- Two sockets whose hashes collided would share their ACKs: about 3 chances in 10^8 for a million devices' sockets.
CREATE OR REPLACE TEMP TABLE uplink AS
WITH raw AS MATERIALIZED (
  SELECT u.uplink_id, n.no AS device_no, u.device_socket, u.route_port, u.sent_ns, u.payload_hash, u.wants_ack, u.match_key
  FROM (
    SELECT send_no::BIGINT AS uplink_id, device, hash(local_ip, local_port) AS device_socket, route_port,
           actual_ns AS sent_ns, payload_hash, wants_ack, match_key
    FROM sends WHERE run_id = $run_id AND error IS NULL
    UNION ALL
    SELECT row_number() OVER (ORDER BY ts_ns) - 1, src_ip || ':' || src_port, hash(src_ip, src_port), route_port, ts_ns,
           payload_hash, kind NOT IN ('unparsed', 'ack', 'nak') AND coalesce(match_key, '') <> '' OR kind = 'opaque', match_key
    FROM observations WHERE run_id = $run_id AND leg = 'device>relay'
  ) u
  -- Every device has its number (00c reads the same rows); one without would fail packet_parity_rows's NOT NULL, not
  -- lose its packets.
  LEFT JOIN packet_parity_names n ON n.run_id = $run_id AND n.field = 'device' AND n.name = u.device
),
-- Only payloads sent more than once on a route are numbered by a window (a sort); the rest are the first. Which
-- repeat is found as neighbours once sorted, as in 02: a hash aggregate of one group per payload took 3.8 s of CPU
-- for 20M sends, this sort 1.3 s (0.30 and 0.14 s for 2M).
repeated AS (
  SELECT DISTINCT route_port, payload_hash
  FROM (
    SELECT route_port, payload_hash,
           lead(route_port) OVER next AS next_route, lead(payload_hash) OVER next AS next_hash
    FROM (SELECT route_port, payload_hash FROM raw)
    WINDOW next AS (ORDER BY route_port, payload_hash)
  )
  WHERE route_port = next_route AND payload_hash = next_hash
)
SELECT raw.*, 1 AS occurrence FROM raw ANTI JOIN repeated USING (route_port, payload_hash)
UNION ALL
SELECT raw.*, row_number() OVER (PARTITION BY route_port, payload_hash ORDER BY sent_ns, uplink_id) AS occurrence
FROM raw SEMI JOIN repeated USING (route_port, payload_hash);
