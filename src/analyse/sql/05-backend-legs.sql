-- reads: uplink, receipts, backend_acks, ack_keying
-- writes: backend_legs
-- One row per uplink packet and backend: its receipt, the backend's k-th copy of that payload on that route, and the
-- backend's ACK, the first answer to the same relay socket with the same correlation (request hash, else match key)
-- at or after it (ASOF; the ACK window is applied in 05c).
-- Run once per backend ($backend): the backends are the observed ones and those the run's topology says carry
-- traffic, so a backend nothing of which was observed still gets its rows, a dead leg as 100% loss, never an absent
-- one; with none at all, one pseudo-backend carries the devices' view (sends and the ACKs they got).
INSERT INTO backend_legs
WITH received AS (
  SELECT u.uplink_id, b.backend, r.ts_ns AS received_ns, u.route_port, r.relay_socket,
         coalesce(k.by_hash, false) AS by_hash,
         CASE WHEN k.by_hash THEN u.payload_hash ELSE hash(coalesce(u.match_key, '')) END AS corr
  FROM uplink u CROSS JOIN (SELECT $backend AS backend) b
  LEFT JOIN ack_keying k ON k.backend = b.backend
  LEFT JOIN receipts r
    ON r.backend = b.backend AND r.route_port = u.route_port AND r.payload_hash = u.payload_hash AND r.occurrence = u.occurrence
),
-- Only the key and the times go through the ASOF join: it sorts what it carries.
keyed AS (
  SELECT uplink_id, backend, received_ns,
         key_a(backend, route_port, relay_socket, 0, by_hash, corr) AS key_a,
         key_b(backend, route_port, relay_socket, 0, by_hash, corr) AS key_b
  FROM received
)
SELECT l.uplink_id, l.backend, l.received_ns, a.ts_ns AS ack_ns, a.kind AS ack_kind, a.payload_hash AS ack_hash
FROM keyed l ASOF LEFT JOIN (SELECT key_a, key_b, ts_ns, kind, payload_hash FROM backend_acks WHERE backend = $backend) a
  ON a.key_a = l.key_a AND a.key_b = l.key_b AND a.ts_ns >= l.received_ns;
