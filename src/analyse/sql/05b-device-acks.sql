-- reads: uplink, observations
-- writes: device_acks
-- What reached each device for each of its requests (leg relay>X to the device's own socket): the first ACK with the
-- request's match key at or after the send, within the ACK window later (05c). One lookup per request, whatever
-- the number of backends. The request's own columns that 05c writes ride along: joining the uplink again there, once
-- per backend, cost more than carrying them through this join once.
CREATE OR REPLACE TEMP TABLE device_acks AS
WITH got AS (
  SELECT key_a(hash(dst_ip, dst_port), coalesce(match_key, ''), 0, 0, 0, 0) AS key_a,
         key_b(hash(dst_ip, dst_port), coalesce(match_key, ''), 0, 0, 0, 0) AS key_b, ts_ns, payload_hash
  FROM observations
  WHERE run_id = $run_id AND leg = 'relay>device'
),
asked AS (
  SELECT uplink_id, device_no, route_port, sent_ns, wants_ack, match_key,
         key_a(device_socket, coalesce(match_key, ''), 0, 0, 0, 0) AS key_a,
         key_b(device_socket, coalesce(match_key, ''), 0, 0, 0, 0) AS key_b
  FROM uplink
)
SELECT u.uplink_id, u.device_no, u.route_port, u.sent_ns, u.wants_ack, u.match_key, d.ts_ns AS device_ack_ns, d.payload_hash AS device_ack_hash
FROM asked u ASOF LEFT JOIN got d ON d.key_a = u.key_a AND d.key_b = u.key_b AND d.ts_ns >= u.sent_ns;
