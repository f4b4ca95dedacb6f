-- reads: http_legs, http_header_parity
-- writes: -
-- Per backend: what arrived of what the client sent, whether it arrived intact (body bytes and a Content-Length that
-- matches them; method, path and the client's headers), and how the backend answered. A request no backend received
-- (the proxy forwarded it nowhere) is the proxy's (unreached, the same on every row), in no backend's loss: each
-- backend's lost_apart is what it missed that another received. With one backend there is nothing to set it against.
WITH reached AS (
  SELECT send_no, bool_or(delivered) AS somewhere, count(*) AS backends FROM http_legs GROUP BY send_no
),
unreached AS (SELECT count(*) FILTER (WHERE NOT somewhere AND backends >= 2) AS unreached FROM reached),
headers AS (
  SELECT backend, request_id, bool_or(received_value IS DISTINCT FROM sent_value) AS differs
  FROM http_header_parity
  GROUP BY backend, request_id
)
SELECT l.backend,
       count(*) AS sent,
       count(*) FILTER (WHERE l.delivered) AS delivered,
       count(*) FILTER (WHERE NOT l.delivered AND (rc.somewhere OR rc.backends < 2)) AS lost_apart,
       any_value(u.unreached) AS unreached,
       sum(greatest(l.copies - 1, 0)) AS duplicated,
       count(*) FILTER (WHERE l.delivered AND (l.body_hash <> l.sent_body_hash OR l.body_bytes <> l.sent_body_bytes
                                               OR (l.content_length IS NOT NULL AND l.content_length <> l.body_bytes))) AS body_mismatches,
       count(*) FILTER (WHERE l.delivered AND l.sent_body_bytes > 0 AND l.body_bytes = 0) AS empty_bodies,
       count(*) FILTER (WHERE l.delivered AND (l.method <> l.sent_method OR l.path <> l.sent_path OR coalesce(h.differs, false))) AS request_mismatches,
       count(*) FILTER (WHERE l.delivered AND l.answered_ns IS NULL) AS resets,
       quantile_cont(l.answer_ms, 0.5) AS answer_p50,
       quantile_cont(l.answer_ms, 0.95) AS answer_p95,
       quantile_cont(l.answer_ms, 0.99) AS answer_p99
FROM http_legs l
LEFT JOIN headers h ON h.backend = l.backend AND h.request_id = l.request_id
JOIN reached rc USING (send_no)
CROSS JOIN unreached u
GROUP BY l.backend
ORDER BY l.backend;
