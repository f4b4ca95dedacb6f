-- reads: uplink, observations, packet_parity_names
-- writes: device_acks
-- What reached each device for each of its requests (leg relay>X to the device's own socket): the first ACK with the
-- request's match key at or after the send, within the ACK window later (05c). One lookup per request, whatever
-- the number of backends. The request's own columns that 05c writes ride along: joining the uplink again there, once
-- per backend, cost more than carrying them through this join once.
CREATE OR REPLACE TEMP TABLE device_acks AS
WITH got AS (
  SELECT key_a(dst_ip, dst_port, coalesce(match_key, ''), 0, 0, 0) AS key_a,
         key_b(dst_ip, dst_port, coalesce(match_key, ''), 0, 0, 0) AS key_b, ts_ns, payload_hash
  FROM observations
  WHERE run_id = $run_id AND leg = 'relay>device'
),
asked AS (
  SELECT u.uplink_id, n.no AS device_no, u.route_port, u.sent_ns, u.wants_ack, u.match_key,
         key_a(u.local_ip, u.local_port, coalesce(u.match_key, ''), 0, 0, 0) AS key_a,
         key_b(u.local_ip, u.local_port, coalesce(u.match_key, ''), 0, 0, 0) AS key_b
  -- The device as its number (04c): a name carried through the ASOF join cost it a sixth of its time.
  FROM uplink u JOIN packet_parity_names n ON n.run_id = $run_id AND n.field = 'device' AND n.name = u.device
)
SELECT u.uplink_id, u.device_no, u.route_port, u.sent_ns, u.wants_ack, u.match_key, d.ts_ns AS device_ack_ns, d.payload_hash AS device_ack_hash
FROM asked u ASOF LEFT JOIN got d ON d.key_a = u.key_a AND d.key_b = u.key_b AND d.ts_ns >= u.sent_ns;
