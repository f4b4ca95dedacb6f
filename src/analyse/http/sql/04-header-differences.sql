-- reads: http_header_parity
-- writes: -
-- Headers that did not arrive as the client sent them, per backend, with one example each: what findings name.
SELECT backend, name,
       count(*) FILTER (WHERE received_value IS NULL) AS missing,
       count(*) FILTER (WHERE received_value IS NOT NULL AND received_value <> sent_value) AS changed,
       arg_min(sent_value, request_id) FILTER (WHERE received_value IS DISTINCT FROM sent_value) AS example_sent,
       arg_min(received_value, request_id) FILTER (WHERE received_value IS DISTINCT FROM sent_value) AS example_received
FROM http_header_parity
GROUP BY backend, name
HAVING count(*) FILTER (WHERE received_value IS DISTINCT FROM sent_value) > 0
ORDER BY backend, missing + changed DESC, name;
