-- reads: http_sends
-- writes: -
-- What the client saw: answers, their time (the live path's latency, shadow included if it slows it), and whether each
-- answer explains its routing (X-Routed-To, X-Route-Reason) under the request id the client sent. The p95 of the first
-- and second half of the answers (by send time) gauges how much the machine alone moved the latency during the run.
WITH sends AS (
  SELECT *, (answered_ns - actual_ns) / 1e6 AS rtt_ms FROM http_sends WHERE run_id = $run_id
), middle AS (
  SELECT quantile_disc(actual_ns, 0.5) AS ns FROM sends WHERE answered_ns IS NOT NULL
)
SELECT count(*) AS sent,
       count(*) FILTER (WHERE answered_ns IS NOT NULL) AS answered,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       count(*) FILTER (WHERE status BETWEEN 500 AND 599) AS server_errors,
       quantile_cont(rtt_ms, 0.5) AS rtt_p50,
       quantile_cont(rtt_ms, 0.95) AS rtt_p95,
       quantile_cont(rtt_ms, 0.99) AS rtt_p99,
       max(rtt_ms) AS rtt_max,
       quantile_cont(rtt_ms, 0.95) FILTER (WHERE actual_ns <= middle.ns) AS rtt_p95_first_half,
       quantile_cont(rtt_ms, 0.95) FILTER (WHERE actual_ns > middle.ns) AS rtt_p95_second_half,
       count(*) FILTER (WHERE answered_ns IS NOT NULL AND (routed_to IS NULL OR route_reason IS NULL)) AS unexplained,
       count(*) FILTER (WHERE answered_ns IS NOT NULL AND echoed_request_id IS DISTINCT FROM request_id) AS other_request_id,
       string_agg(DISTINCT routed_to, ',') AS routed_to
FROM sends, middle;
