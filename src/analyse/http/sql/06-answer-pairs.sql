-- reads: http_legs
-- writes: -
-- The reference backend's answer and another backend's to the same request, for each request both received: compared
-- by status here, and field by field in TypeScript. A reset is an answer with no status.
SELECT ref.request_id, other.backend, ref.status AS ref_status, other.status AS other_status,
       ref.response_body AS ref_body, other.response_body AS other_body
FROM http_legs ref
JOIN http_legs other ON other.request_id = ref.request_id AND other.backend <> ref.backend
WHERE ref.backend = $reference AND ref.delivered AND other.delivered AND ref.answered_ns IS NOT NULL
ORDER BY other.backend, ref.send_no;
