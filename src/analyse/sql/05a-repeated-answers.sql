-- reads: observations
-- writes: repeated_answers
-- The correlation keys a backend answered more than once (leg X>relay, keyed as 05 ties answers to requests: relay
-- socket, and the request's hash where its observer gave it, else the match key), with how many answers each. 05
-- sends only their requests through its ASOF join; 05e counts the answers beyond the requests. One sort of the
-- backend's answers' keys, shared by both. Run once per backend ($backend).
INSERT INTO repeated_answers
-- Read twice below, inlined: materialized (2M rows with their match keys) the step took 0.13-0.14 s against 0.12.
WITH answers AS NOT MATERIALIZED (
  SELECT route_port, relay_socket, by_hash, corr, match_key, hash(route_port, relay_socket, by_hash, corr) AS key
  FROM (
    SELECT route_port, hash(dst_ip, dst_port) AS relay_socket, reply_to_hash IS NOT NULL AS by_hash,
           answer_corr(reply_to_hash, match_key) AS corr, match_key
    FROM observations
    WHERE run_id = $run_id AND leg = $backend || '>relay'
  )
),
-- The keys that repeat, as neighbours once sorted (as in 02): the hash aggregate of one group per key this replaced
-- took 0.19-0.24 s a backend on the bench's run, this 0.12. A collision of the one hash only sends a key answered once
-- to the exact count below, which leaves it out.
repeated AS (
  SELECT DISTINCT key FROM (SELECT key, lead(key) OVER (ORDER BY key) AS next_key FROM (SELECT key FROM answers)) WHERE key = next_key
)
SELECT $backend AS backend, route_port, relay_socket, by_hash, corr,
       key_a($backend, route_port, relay_socket, 0, by_hash, corr) AS key_a,
       key_b($backend, route_port, relay_socket, 0, by_hash, corr) AS key_b,
       answers, match_key
FROM (
  SELECT route_port, relay_socket, by_hash, corr, count(*) AS answers, any_value(match_key) AS match_key
  FROM answers SEMI JOIN repeated USING (key)
  GROUP BY ALL
  HAVING count(*) > 1
);
