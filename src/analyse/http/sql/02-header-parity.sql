-- reads: http_legs, http_sends, http_exchanges, runs
-- writes: http_header_parity
-- Every header the client sent (as recorded in the capture, less those a client sets per connection), looked up in
-- what each backend received: missing, or with another value. Names are compared lower-case; a header sent more than
-- once is compared as its values joined with ', ', as HTTP allows.
CREATE OR REPLACE TEMP TABLE http_header_parity AS
WITH sent AS (
  SELECT s.request_id, lower(h[1]) AS name, string_agg(h[2], ', ') AS value
  FROM http_sends s
  JOIN runs ON runs.run_id = s.run_id
  JOIN http_exchanges x ON x.capture_id = runs.capture_id AND x.idx = s.exchange_idx,
  LATERAL unnest(CAST(x.request_headers AS VARCHAR[][])) AS t(h)
  WHERE s.run_id = $run_id
    AND NOT starts_with(h[1], ':')
    AND lower(h[1]) NOT IN ('connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'x-request-id')
  GROUP BY s.request_id, lower(h[1])
)
SELECT l.backend, l.request_id, sent.name, sent.value AS sent_value,
       json_extract_string(l.headers, '$."' || replace(sent.name, '"', '') || '"') AS received_value
FROM http_legs l
JOIN sent ON sent.request_id = l.request_id
WHERE l.delivered;
