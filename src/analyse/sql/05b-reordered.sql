-- reads: backend_legs, uplink
-- writes: reordered
-- The packets that reached their backend ($backend, one at a time) before a packet their device had sent earlier
-- (few: 05c joins them in). One backend at a time, so the device alone partitions, as one 64-bit hash of its socket:
-- sorting by the address's text cost a fifth of the step.
INSERT INTO reordered
WITH ordered AS (
  SELECT l.uplink_id, l.backend,
         l.received_ns < max(l.received_ns) OVER (PARTITION BY hash(u.local_ip, u.local_port) ORDER BY u.sent_ns, l.uplink_id
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reordered
  FROM backend_legs l JOIN uplink u USING (uplink_id)
  WHERE l.backend = $backend AND l.received_ns IS NOT NULL
)
SELECT uplink_id, backend FROM ordered WHERE reordered;
