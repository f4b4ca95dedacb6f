-- reads: uplink, observations, extra_answers
-- writes: unasked_acks
-- ACKs that reached a device more often than it asked: per device socket and match key, the answers it got (leg
-- relay>device; bytes that do not parse as one are no ACK and are not counted here) beyond its requests with that key
-- (of any kind: a device that sent the key at all is not told something it did not ask). Such an ACK was handed to a
-- device that did not ask for it (another device's answer, which leaks one device's data to another) or is a second
-- answer to one request. Counted by key, not one to one, so a device that asked twice (a retry) may get two; one tally
-- over both sides, keyed by one 64-bit hash like the lookups (00a-keys.sql). Per route the relay handed the ACKs out on.
-- A second answer the reference backend itself sent (05a) is the backend's to answer for, judged on it: a relay that
-- passes it on to the device that asked does as it should, and is not counted here.
CREATE OR REPLACE TEMP TABLE unasked_acks AS
WITH tally AS (
  SELECT key_a(hash(dst_ip, dst_port), coalesce(match_key, ''), 0, 0, 0, 0) AS key, 1 AS acks, route_port
  FROM observations
  WHERE run_id = $run_id AND leg = 'relay>device' AND kind <> 'unparsed'
  UNION ALL
  SELECT key_a(device_socket, coalesce(match_key, ''), 0, 0, 0, 0), -1, NULL
  FROM uplink
  UNION ALL
  SELECT key_a(device_socket, coalesce(match_key, ''), 0, 0, 0, 0), -extra, NULL
  FROM extra_answers
  WHERE backend = $reference AND device_socket IS NOT NULL
),
beyond AS (
  SELECT sum(acks) AS unasked, min(route_port) AS route_port
  FROM tally
  GROUP BY key
  HAVING sum(acks) > 0
)
SELECT route_port, sum(unasked)::BIGINT AS unasked
FROM beyond
GROUP BY ALL;
