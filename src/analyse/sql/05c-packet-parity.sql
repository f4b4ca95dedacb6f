-- reads: backend_legs, device_acks
-- writes: packet_parity_rows
-- Each packet on each backend, judged: its receipt, its ACK and the device's, each only within $ack_window_ns of what
-- it answers (sequence numbers wrap; devices retry). ACK parity, first pass: identical ACK
-- bytes match the reference backend's, and the ACK a device got is compared with the reference backend's on the
-- reference's row; differing bytes are compared field by field afterwards (07, 07c: the ignore-mask, in TypeScript).
-- Run once per slice of the uplink ($first_uplink to $end_uplink, correlate-run.ts): at 100M observations one hash
-- table of 20M requests cost more per row than four of 5M (05c 11.7 s against 14.4 s).
INSERT INTO packet_parity_rows BY NAME
WITH judged AS (
  SELECT l.*, u.device_no, u.route_port, u.sent_ns, u.wants_ack, u.match_key, u.device_ack_ns, u.device_ack_hash,
         u.wants_ack AND l.ack_ns - l.received_ns <= $ack_window_ns AS ack_in_window,
         u.wants_ack AND u.device_ack_ns - u.sent_ns <= $ack_window_ns AS device_ack_in_window,
         CASE WHEN l.backend_no <> $reference_no AND r.ack_ns - r.received_ns <= $ack_window_ns THEN r.ack_hash END AS reference_ack_hash,
         r.received_ns IS NOT NULL AS reference_delivered,
         r.ack_ns - r.received_ns <= $ack_window_ns AS reference_ack_in_window
  FROM (FROM backend_legs WHERE uplink_id >= $first_uplink AND uplink_id < $end_uplink) l
  JOIN (FROM device_acks WHERE uplink_id >= $first_uplink AND uplink_id < $end_uplink) u USING (uplink_id)
  -- All backends in one statement: the devices' view and the reference's rows are each hashed once, not once per
  -- backend (2.8 s against 3.0-3.3 s for two backends' 4M rows).
  LEFT JOIN (FROM backend_legs WHERE backend_no = $reference_no AND uplink_id >= $first_uplink AND uplink_id < $end_uplink) r
    ON r.uplink_id = l.uplink_id
)
SELECT
  $run_id AS run_id, j.uplink_id, device_no, route_port, j.backend_no, sent_ns, wants_ack, nullif(match_key, '') AS match_key,
  received_ns,
  CASE WHEN received_ns IS NOT NULL THEN reordered END AS reordered,
  -- Only ACKs within the window are kept: the latencies, `acked` and `device_acked` are computed from these times by
  -- the view packet_parity (src/store/schema.sql), so each is NULL exactly where its ACK did not count.
  CASE WHEN ack_in_window THEN ack_ns END AS ack_ns,
  CASE WHEN ack_in_window THEN ack_kind_no END AS ack_kind_no,
  CASE WHEN ack_in_window THEN ack_hash END AS ack_hash,
  CASE WHEN j.backend_no <> $reference_no AND ack_in_window AND reference_ack_hash IS NOT NULL THEN ack_hash = reference_ack_hash END AS ack_match,
  CASE WHEN device_ack_in_window THEN device_ack_ns END AS device_ack_ns,
  CASE WHEN device_ack_in_window THEN device_ack_hash END AS device_ack_hash,
  CASE WHEN j.backend_no = $reference_no AND device_ack_in_window AND ack_in_window THEN device_ack_hash = ack_hash END AS device_ack_match,
  -- Both received it and it wanted an answer, and one acked (as `acked`) where the reference did not, or the other
  -- way: judged here, on the row that carries the reference's, where 08 joined packet_parity to itself.
  CASE WHEN j.backend_no <> $reference_no AND wants_ack AND received_ns IS NOT NULL AND reference_delivered
       THEN coalesce(ack_in_window, false) <> coalesce(reference_ack_in_window, false) END AS one_sided_ack
FROM judged j;
