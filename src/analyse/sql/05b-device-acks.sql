-- reads: uplink, observations
-- writes: device_acks
-- What reached each device for each of its requests (leg relay>X to the device's own socket): the first ACK with the
-- request's match key at or after the send, within the ACK window later (05c). One lookup per request, whatever
-- the number of backends. The request's own columns that 05c writes ride along: joining the uplink again there, once
-- per backend, cost more than carrying them through this join once.
-- Run for a slice of the uplink's ids at a time ($first_uplink to before $end_uplink, sent from $first_sent_ns to
-- $last_sent_ns; correlate-run.ts), as 05c is: only ACKs from the slice's first send to the ACK window after its last
-- can be the first within the window of one of its requests, and 05c keeps an ACK only within it, so the slices
-- give what one join over the whole run gave. At 100M observations 8.1 s against 10-13 s, faulting 66k fresh pages
-- against 340-500k.
INSERT INTO device_acks
WITH got AS (
  SELECT key_a(hash(dst_ip, dst_port), coalesce(match_key, ''), 0, 0, 0, 0) AS key_a,
         key_b(hash(dst_ip, dst_port), coalesce(match_key, ''), 0, 0, 0, 0) AS key_b, ts_ns, payload_hash
  FROM observations
  WHERE run_id = $run_id AND leg = 'relay>device' AND ts_ns >= $first_sent_ns AND ts_ns <= $last_sent_ns + $ack_window_ns
),
asked AS (
  SELECT uplink_id, device_no, route_port, sent_ns, wants_ack, match_key,
         key_a(device_socket, coalesce(match_key, ''), 0, 0, 0, 0) AS key_a,
         key_b(device_socket, coalesce(match_key, ''), 0, 0, 0, 0) AS key_b
  FROM uplink
  WHERE uplink_id >= $first_uplink AND uplink_id < $end_uplink
)
SELECT u.uplink_id, u.device_no, u.route_port, u.sent_ns, u.wants_ack, u.match_key, d.ts_ns AS device_ack_ns, d.payload_hash AS device_ack_hash
FROM asked u ASOF LEFT JOIN got d ON d.key_a = u.key_a AND d.key_b = u.key_b AND d.ts_ns >= u.sent_ns;
