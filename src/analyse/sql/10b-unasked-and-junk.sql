-- reads: unasked_acks, junk_to_devices
-- writes: -
-- What devices got beyond what they asked for, per route it came on: ACKs (05d), and datagrams that are no answer at
-- all and that no backend sent (05f).
SELECT route_port, sum(unasked)::BIGINT AS unasked, sum(junk)::BIGINT AS junk
FROM (
  SELECT route_port, unasked, 0 AS junk FROM unasked_acks
  UNION ALL
  SELECT route_port, 0, junk FROM junk_to_devices
)
GROUP BY ALL;
