-- reads: pg_sends, pg_receipts
-- writes: -
-- Order violations at the mirror: within each replayed session, a statement the mirror received before one the
-- session sent earlier.
WITH m AS (
  SELECT try_cast(regexp_extract(query, '^/\*parity_send=(\d+)\*/', 1) AS BIGINT) AS send_no, min(received_ns) AS received_ns
  FROM pg_receipts
  WHERE run_id = $run_id AND database = 'mirror'
  GROUP BY 1
),
ordered AS (
  SELECT s.session, s.send_no, m.received_ns,
         max(m.received_ns) OVER (PARTITION BY s.session ORDER BY s.send_no ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS latest_before
  FROM pg_sends s
  JOIN m ON m.send_no = s.send_no
  WHERE s.run_id = $run_id
)
SELECT count(*) AS received, count(*) FILTER (WHERE received_ns < latest_before) AS out_of_order
FROM ordered;
