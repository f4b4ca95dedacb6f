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
         -- Up to and including the statement itself: a running max in one pass (05-backend-legs.sql says why), and one
         -- is below it only when a statement sent before it was received later.
         max(m.received_ns) OVER (PARTITION BY s.session ORDER BY s.send_no ROWS UNBOUNDED PRECEDING) AS latest_so_far
  FROM pg_sends s
  JOIN m ON m.send_no = s.send_no
  WHERE s.run_id = $run_id
)
SELECT count(*) AS received, count(*) FILTER (WHERE received_ns < latest_so_far) AS out_of_order
FROM ordered;
