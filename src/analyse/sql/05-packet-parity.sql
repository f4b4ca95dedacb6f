-- reads: uplink, receipts, backend_acks, ack_keying, device_acks
-- writes: packet_parity
-- One row per uplink packet and backend. A receipt is the backend's k-th copy of that payload on that route;
-- its ACK is the first answer to the same relay socket with the same correlation (request hash, else match key)
-- after it (ASOF), within $ack_window_ns; the device's ACK likewise, by match key on the device's own socket.
-- Backends come from the observations and from the run's topology ($expected_backends, comma-separated): a backend
-- the topology says carries traffic gets its rows even when nothing of it was observed, so a dead leg is a 100%
-- loss, never an absent one.
INSERT INTO packet_parity BY NAME
WITH observed AS (
  SELECT DISTINCT backend FROM receipts
  UNION SELECT DISTINCT backend FROM backend_acks
  UNION SELECT unnest(string_split($expected_backends, ',')) WHERE $expected_backends <> ''
),
-- With no backend leg observed or expected, one pseudo-backend carries the devices' view (sends and the ACKs they got).
backends AS (
  SELECT backend FROM observed UNION ALL SELECT $no_backend WHERE NOT EXISTS (SELECT 1 FROM observed)
),
rows AS (
  SELECT u.uplink_id, u.device, u.local_ip, u.local_port, u.route_port, b.backend, u.sent_ns, u.wants_ack,
         coalesce(u.match_key, '') AS match_key, r.ts_ns AS received_ns, r.src_ip AS relay_ip, r.src_port AS relay_port,
         CASE WHEN k.by_hash THEN 'h:' || u.payload_hash ELSE 'k:' || coalesce(u.match_key, '') END AS corr
  FROM uplink u CROSS JOIN backends b
  LEFT JOIN ack_keying k ON k.backend = b.backend
  LEFT JOIN receipts r
    ON r.backend = b.backend AND r.route_port = u.route_port AND r.payload_hash = u.payload_hash AND r.occurrence = u.occurrence
),
with_ack AS (
  SELECT rows.*, a.ts_ns AS ack_ns, a.kind AS ack_kind_raw, a.payload_hash AS ack_hash_raw, a.payload AS ack_payload_raw
  FROM rows ASOF LEFT JOIN backend_acks a
    ON a.backend = rows.backend AND a.route_port = rows.route_port AND a.dst_ip = rows.relay_ip
   AND a.dst_port = rows.relay_port AND a.corr = rows.corr AND a.ts_ns >= rows.received_ns
),
with_device AS (
  SELECT with_ack.*, d.ts_ns AS device_ack_ns, d.payload_hash AS device_hash_raw, d.payload AS device_payload_raw
  FROM with_ack ASOF LEFT JOIN device_acks d
    ON d.dst_ip = with_ack.local_ip AND d.dst_port = with_ack.local_port AND d.match_key = with_ack.match_key
   AND d.ts_ns >= with_ack.sent_ns
),
judged AS (
  SELECT *,
    wants_ack AND ack_ns - received_ns <= $ack_window_ns AS ack_in_window,
    wants_ack AND device_ack_ns - sent_ns <= $ack_window_ns AS device_ack_in_window
  FROM with_device
)
SELECT
  $run_id AS run_id, uplink_id, device, route_port, backend, sent_ns, wants_ack, nullif(match_key, '') AS match_key,
  received_ns IS NOT NULL AS delivered,
  received_ns,
  (received_ns - sent_ns) / 1e6 AS forward_latency_ms,
  -- Reordered: it reached the backend before a packet its device had sent earlier.
  received_ns < max(received_ns) OVER (PARTITION BY backend, device ORDER BY sent_ns, uplink_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reordered,
  CASE WHEN NOT wants_ack OR received_ns IS NULL THEN NULL ELSE coalesce(ack_in_window, false) END AS acked,
  CASE WHEN ack_in_window THEN ack_kind_raw END AS ack_kind,
  CASE WHEN ack_in_window THEN (ack_ns - sent_ns) / 1e6 END AS ack_latency_ms,
  CASE WHEN ack_in_window THEN (ack_ns - received_ns) / 1e6 END AS backend_ack_latency_ms,
  CASE WHEN ack_in_window THEN ack_hash_raw END AS ack_hash,
  CASE WHEN ack_in_window THEN ack_payload_raw END AS ack_payload,
  CASE WHEN wants_ack THEN coalesce(device_ack_in_window, false) END AS device_acked,
  CASE WHEN device_ack_in_window THEN (device_ack_ns - sent_ns) / 1e6 END AS round_trip_ms,
  CASE WHEN device_ack_in_window THEN device_hash_raw END AS device_ack_hash,
  CASE WHEN device_ack_in_window THEN device_payload_raw END AS device_ack_payload,
  -- What the relay itself added to the devices' wait: both of its hops, without the backend's own answer time.
  CASE WHEN device_ack_in_window AND ack_in_window THEN ((device_ack_ns - sent_ns) - (ack_ns - received_ns)) / 1e6 END AS relay_added_ms
FROM judged;
