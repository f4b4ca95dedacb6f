-- reads: http_sends, http_receipts
-- writes: http_legs
-- Each request the client sent, followed to each backend that received anything by its X-Request-ID: the first copy
-- the backend received (later copies are duplicates), what it answered, and how long it took.
CREATE OR REPLACE TEMP TABLE http_legs AS
WITH receipts AS (
  SELECT backend, request_id, count(*) AS copies,
         arg_min(struct_pack(method, path, headers, content_length, body_bytes, body_hash, received_ns, answered_ns, status, response_body), received_ns) AS first
  FROM http_receipts
  WHERE run_id = $run_id AND request_id IS NOT NULL
  GROUP BY backend, request_id
),
backends AS (SELECT DISTINCT backend FROM http_receipts WHERE run_id = $run_id)
SELECT s.send_no, s.exchange_idx, s.request_id, b.backend,
       s.method AS sent_method, s.path AS sent_path, s.body_bytes AS sent_body_bytes, s.body_hash AS sent_body_hash,
       r.copies IS NOT NULL AS delivered,
       coalesce(r.copies, 0) AS copies,
       r.first.method AS method, r.first.path AS path, r.first.headers AS headers,
       r.first.content_length AS content_length, r.first.body_bytes AS body_bytes, r.first.body_hash AS body_hash,
       r.first.received_ns AS received_ns, r.first.answered_ns AS answered_ns, r.first.status AS status,
       r.first.response_body AS response_body,
       (r.first.answered_ns - r.first.received_ns) / 1e6 AS answer_ms
FROM http_sends s
CROSS JOIN backends b
LEFT JOIN receipts r ON r.backend = b.backend AND r.request_id = s.request_id
WHERE s.run_id = $run_id;
