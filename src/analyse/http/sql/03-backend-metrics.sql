-- reads: http_legs, http_header_parity
-- writes: -
-- Per backend: what arrived of what the client sent, whether it arrived intact (body bytes and a Content-Length that
-- matches them; method, path and the client's headers), and how the backend answered.
WITH headers AS (
  SELECT backend, request_id, bool_or(received_value IS DISTINCT FROM sent_value) AS differs
  FROM http_header_parity
  GROUP BY backend, request_id
)
SELECT l.backend,
       count(*) AS sent,
       count(*) FILTER (WHERE l.delivered) AS delivered,
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
GROUP BY l.backend
ORDER BY l.backend;
