-- reads: observations
-- writes: repeated_answers
-- The correlation keys a backend answered more than once (leg X>relay, keyed as 05 ties answers to requests: relay
-- socket, and the request's hash where its observer gave it, else the match key), with how many answers each. 05
-- sends only their requests through its ASOF join; 05e counts the answers beyond the requests. One hash aggregate
-- over the backend's answers, shared by both. Run once per backend ($backend).
INSERT INTO repeated_answers
SELECT $backend AS backend, route_port, relay_socket, by_hash, corr,
       key_a($backend, route_port, relay_socket, 0, by_hash, corr) AS key_a,
       key_b($backend, route_port, relay_socket, 0, by_hash, corr) AS key_b,
       answers, match_key
FROM (
  SELECT route_port, hash(dst_ip, dst_port) AS relay_socket, reply_to_hash IS NOT NULL AS by_hash,
         answer_corr(reply_to_hash, match_key) AS corr, count(*) AS answers, any_value(match_key) AS match_key
  FROM observations
  WHERE run_id = $run_id AND leg = $backend || '>relay'
  GROUP BY ALL
  HAVING count(*) > 1
);
