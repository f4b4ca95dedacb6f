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
  SELECT u.uplink_id, n.no AS device_no, u.device_socket, u.route_port, u.sent_ns, u.payload_hash, u.wants_ack, u.match_key,
         hash(u.route_port, u.payload_hash) AS copy_key
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
-- for 20M sends, this sort 1.3 s (0.30 and 0.14 s for 2M). What is sorted and joined on is one 64-bit hash of (route,
-- payload hash), `copy_key`, taken once a row in `raw` as 02 takes its own, not the two columns (the step 2.70-3.02 s
-- against 3.57-3.96 s for 20M sends, 0.28-0.33 s against 0.33-0.46 s for 2M): two pairs that collide only send a
-- payload sent once through the window, which numbers it 1 by its own columns.
repeated AS (
  SELECT DISTINCT copy_key
  FROM (SELECT copy_key, lead(copy_key) OVER (ORDER BY copy_key) AS next_key FROM (SELECT copy_key FROM raw))
  WHERE copy_key = next_key
)
SELECT raw.* EXCLUDE (copy_key), 1 AS occurrence FROM raw ANTI JOIN repeated USING (copy_key)
UNION ALL
SELECT raw.* EXCLUDE (copy_key), row_number() OVER (PARTITION BY route_port, payload_hash ORDER BY sent_ns, uplink_id) AS occurrence
FROM raw SEMI JOIN repeated USING (copy_key);
