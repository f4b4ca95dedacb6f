-- One row per uplink packet and backend. A receipt is the backend's k-th copy of that payload on that route;
-- its ACK is the first answer to the same relay socket with the same correlation (request hash, else match key)
-- after it (ASOF), within $ack_window_ns; the device's ACK likewise, by match key on the device's own socket.
INSERT INTO packet_parity
WITH observed AS (
  SELECT DISTINCT backend FROM receipts UNION SELECT DISTINCT backend FROM backend_acks
),
-- With no backend leg observed, one pseudo-backend carries the devices' view (sends and the ACKs they got).
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
  SELECT rows.*, a.ts_ns AS ack_ns, a.kind AS ack_kind, a.payload_hash AS ack_hash, a.payload AS ack_payload
  FROM rows ASOF LEFT JOIN backend_acks a
    ON a.backend = rows.backend AND a.route_port = rows.route_port AND a.dst_ip = rows.relay_ip
   AND a.dst_port = rows.relay_port AND a.corr = rows.corr AND a.ts_ns >= rows.received_ns
),
with_device AS (
  SELECT with_ack.*, d.ts_ns AS device_ack_ns
  FROM with_ack ASOF LEFT JOIN device_acks d
    ON d.dst_ip = with_ack.local_ip AND d.dst_port = with_ack.local_port AND d.match_key = with_ack.match_key
   AND d.ts_ns >= with_ack.sent_ns
)
SELECT
  $run_id, uplink_id, device, route_port, backend, sent_ns, wants_ack, nullif(match_key, ''),
  received_ns IS NOT NULL,
  received_ns,
  (received_ns - sent_ns) / 1e6,
  -- Reordered: it reached the backend before a packet its device had sent earlier.
  received_ns < max(received_ns) OVER (PARTITION BY backend, device ORDER BY sent_ns, uplink_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
  CASE WHEN NOT wants_ack OR received_ns IS NULL THEN NULL ELSE ack_ns IS NOT NULL AND ack_ns - received_ns <= $ack_window_ns END,
  CASE WHEN wants_ack AND ack_ns - received_ns <= $ack_window_ns THEN ack_kind END,
  CASE WHEN wants_ack AND ack_ns - received_ns <= $ack_window_ns THEN (ack_ns - sent_ns) / 1e6 END,
  CASE WHEN wants_ack AND ack_ns - received_ns <= $ack_window_ns THEN (ack_ns - received_ns) / 1e6 END,
  CASE WHEN wants_ack AND ack_ns - received_ns <= $ack_window_ns THEN ack_hash END,
  CASE WHEN wants_ack AND ack_ns - received_ns <= $ack_window_ns THEN ack_payload END,
  NULL::BOOLEAN,
  NULL::VARCHAR,
  CASE WHEN wants_ack THEN device_ack_ns IS NOT NULL AND device_ack_ns - sent_ns <= $ack_window_ns END,
  CASE WHEN wants_ack AND device_ack_ns - sent_ns <= $ack_window_ns THEN (device_ack_ns - sent_ns) / 1e6 END
FROM with_device;
