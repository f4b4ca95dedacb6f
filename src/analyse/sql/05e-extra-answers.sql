-- reads: repeated_answers, uplink, receipts, ack_keying, backend_legs, packet_parity_names, observations
-- writes: extra_answers
-- What each backend answered beyond what it was asked, with the device the relay socket stands for and the answers'
-- match key: a relay that passes the reference backend's extra ACK on to that device does as it should (05d). Few
-- rows in most runs: only the sockets of those answers are read.
-- - A second answer to one request: per relay socket and correlation key it answered more than once (05a), its
--   answers less the requests it received with that key, every copy counted (a copy the relay sent twice is asked
--   twice: answering both is no fault of the backend's).
-- - An answer to a request it never received: one 05 tied to no device's packet at or before it (its row with no
--   uplink_id) and that no copy the backend received at that socket asked for either (a packet altered on the way is
--   received as asked, though no device sent it: answering it is no fault of the backend's).
--   What a capture begun mid-stream shows first is answers to requests from before it, so only an answer later than
--   the backend's first request in the run by more than its slowest answer tied to a request (within the ACK window)
--   counts.
INSERT INTO extra_answers
WITH
-- The legs and the receipts number their backends (00b); only the few rows read from them here are named.
backends AS (SELECT no AS backend_no, name AS backend FROM packet_parity_names WHERE run_id = $run_id AND field = 'backend'),
unmatched AS MATERIALIZED (
  SELECT backend, ack_ns AS ts_ns, ack_hash AS payload_hash, count(*) AS answers
  FROM (FROM backend_legs WHERE uplink_id IS NULL) JOIN backends USING (backend_no)
  GROUP BY ALL
),
-- Their sockets, routes and match keys, from the observations of those answers (none to read in most runs).
unasked AS MATERIALIZED (
  SELECT u.backend, o.route_port, o.relay_socket, o.by_hash, o.corr, o.match_key, u.ts_ns, u.answers
  FROM unmatched u
  JOIN (
    SELECT split_part(leg, '>', 1) AS backend, ts_ns, payload_hash, any_value(route_port) AS route_port,
           any_value(hash(dst_ip, dst_port)) AS relay_socket, any_value(reply_to_hash IS NOT NULL) AS by_hash,
           any_value(answer_corr(reply_to_hash, match_key)) AS corr, any_value(match_key) AS match_key
    FROM observations
    WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay' AND ts_ns IN (SELECT ts_ns FROM unmatched)
    GROUP BY ALL
  ) o USING (backend, ts_ns, payload_hash)
),
sockets AS (
  FROM (SELECT backend, relay_socket FROM repeated_answers UNION SELECT backend, relay_socket FROM unasked) JOIN backends USING (backend)
),
received AS MATERIALIZED (FROM (FROM receipts SEMI JOIN sockets USING (backend_no, relay_socket)) JOIN backends USING (backend_no)),
-- The backends with answers no request was received for.
unasked_backends AS (FROM backends WHERE backend IN (SELECT backend FROM unasked)),
-- Only the sends of those copies' bytes are hashed for the joins below: none in most runs.
sent AS MATERIALIZED (FROM uplink SEMI JOIN received USING (route_port, payload_hash)),
-- Every copy received on those sockets, with its send where it was matched to one (05), else the first send of its
-- bytes on the route (a copy beyond what was sent is asked as the first was).
requests AS MATERIALIZED (
  SELECT r.backend, r.route_port, r.relay_socket, r.ts_ns, coalesce(k.by_hash, false) AS by_hash,
         request_corr(k.by_hash, r.payload_hash, coalesce(m.match_key, f.match_key)) AS corr,
         m.device_socket
  FROM received r
  LEFT JOIN sent m ON m.route_port = r.route_port AND m.payload_hash = r.payload_hash AND m.occurrence = r.occurrence
  LEFT JOIN sent f ON f.route_port = r.route_port AND f.payload_hash = r.payload_hash AND f.occurrence = 1
  LEFT JOIN ack_keying k ON k.backend = r.backend
),
asked AS (SELECT backend, route_port, relay_socket, by_hash, corr, count(*) AS requests FROM requests GROUP BY ALL),
-- The relay keeps a socket per device: the device is the sender of the copies that came through it.
devices AS (
  SELECT backend, relay_socket, any_value(device_socket) AS device_socket
  FROM requests
  WHERE device_socket IS NOT NULL
  GROUP BY ALL
),
first_request AS (SELECT backend, min(ts_ns) AS first_ns FROM receipts JOIN unasked_backends USING (backend_no) GROUP BY ALL),
slowest AS (
  SELECT backend, max(ack_ns - received_ns) AS slowest_ns
  FROM backend_legs JOIN unasked_backends USING (backend_no)
  WHERE uplink_id IS NOT NULL AND ack_ns - received_ns <= $ack_window_ns
  GROUP BY ALL
)
SELECT a.backend, a.route_port, a.answers - coalesce(q.requests, 0) AS extra, d.device_socket, a.match_key
FROM repeated_answers a
LEFT JOIN asked q USING (backend, route_port, relay_socket, by_hash, corr)
LEFT JOIN devices d USING (backend, relay_socket)
WHERE a.answers > coalesce(q.requests, 0)
UNION ALL
SELECT u.backend, u.route_port, sum(u.answers) AS extra, d.device_socket, u.match_key
FROM unasked u
JOIN first_request f USING (backend)
LEFT JOIN slowest s USING (backend)
LEFT JOIN devices d USING (backend, relay_socket)
WHERE u.ts_ns > f.first_ns + coalesce(s.slowest_ns, 0)
  AND NOT EXISTS (
    SELECT 1 FROM requests q
    WHERE q.backend = u.backend AND q.route_port = u.route_port AND q.relay_socket = u.relay_socket
      AND q.by_hash = u.by_hash AND q.corr = u.corr AND q.ts_ns <= u.ts_ns
  )
GROUP BY ALL;
