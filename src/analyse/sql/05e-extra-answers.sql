-- reads: repeated_answers, uplink, receipts, ack_keying
-- writes: extra_answers
-- What each backend answered beyond what it was asked (a second ACK to one request): per relay socket and
-- correlation key it answered more than once (05a), its answers less the requests it received with that key, every
-- copy counted (a copy the relay sent twice is asked twice: answering both is no fault of the backend's). The device
-- the relay socket stands for, and the answers' match key, go with them: a relay that passes the reference backend's
-- second ACK on to that device does as it should (05d). Few rows in most runs: only those keys' sockets are read.
INSERT INTO extra_answers
WITH
received AS MATERIALIZED (FROM receipts SEMI JOIN repeated_answers USING (backend, relay_socket)),
-- Only the sends of those copies' bytes are hashed for the joins below: none in most runs.
sent AS MATERIALIZED (FROM uplink SEMI JOIN received USING (route_port, payload_hash)),
-- Every copy received on those sockets, with its send where it was matched to one (05), else the first send of its
-- bytes on the route (a copy beyond what was sent is asked as the first was).
requests AS MATERIALIZED (
  SELECT r.backend, r.route_port, r.relay_socket, coalesce(k.by_hash, false) AS by_hash,
         request_corr(k.by_hash, r.payload_hash, coalesce(m.match_key, f.match_key)) AS corr,
         m.local_ip, m.local_port
  FROM received r
  LEFT JOIN sent m ON m.route_port = r.route_port AND m.payload_hash = r.payload_hash AND m.occurrence = r.occurrence
  LEFT JOIN sent f ON f.route_port = r.route_port AND f.payload_hash = r.payload_hash AND f.occurrence = 1
  LEFT JOIN ack_keying k ON k.backend = r.backend
),
asked AS (SELECT backend, route_port, relay_socket, by_hash, corr, count(*) AS requests FROM requests GROUP BY ALL),
-- The relay keeps a socket per device: the device is the sender of the copies that came through it.
devices AS (
  SELECT backend, relay_socket, any_value(local_ip) AS local_ip, any_value(local_port) AS local_port
  FROM requests
  WHERE local_ip IS NOT NULL
  GROUP BY ALL
)
SELECT a.backend, a.route_port, a.answers - coalesce(q.requests, 0) AS extra, d.local_ip, d.local_port, a.match_key
FROM repeated_answers a
LEFT JOIN asked q USING (backend, route_port, relay_socket, by_hash, corr)
LEFT JOIN devices d USING (backend, relay_socket)
WHERE a.answers > coalesce(q.requests, 0);
