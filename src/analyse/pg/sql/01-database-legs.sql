-- reads: pg_receipts
-- writes: -
-- Per database, as its tap saw it: the replayed requests it received (each statement carries its send's number in
-- a leading comment), the statements it ran (a simple query may hold several), those it never answered, statements
-- no send explains, and its answer latency (the tap's receive to the end of the answer).
WITH r AS (
  SELECT database,
         try_cast(regexp_extract(query, '^/\*parity_send=(\d+)\*/', 1) AS BIGINT) AS send_no,
         received_ns, answered_ns
  FROM pg_receipts
  WHERE run_id = $run_id
)
SELECT database,
       count(DISTINCT send_no) AS delivered,
       count(*) AS statements,
       count(*) FILTER (WHERE answered_ns IS NULL) AS unanswered,
       count(*) FILTER (WHERE send_no IS NULL) AS unexplained,
       quantile_cont((answered_ns - received_ns) / 1e6, 0.5) AS p50_ms,
       quantile_cont((answered_ns - received_ns) / 1e6, 0.95) AS p95_ms,
       quantile_cont((answered_ns - received_ns) / 1e6, 0.99) AS p99_ms
FROM r
GROUP BY database
ORDER BY database;
