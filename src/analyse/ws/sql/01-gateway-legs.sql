-- reads: ws_sends, ws_receipts
-- writes: -
-- Per gateway: each frame the replay fed the agent followed to the gateway by (session, stream, seq); the first copy
-- processed is its delivery, later copies are duplicates, and a first copy with a lower seq than one its stream
-- already delivered is out of order. Frames no send explains (a gateway inventing or mangling them) are counted too.
WITH receipts AS (
  SELECT gateway, session_id, stream, seq,
         row_number() OVER (PARTITION BY gateway, session_id, stream, seq ORDER BY received_ns) AS copy,
         -- Up to and including the frame itself: a running max in one pass (05-backend-legs.sql says why), and a
         -- frame is below it only when one received before it had a higher seq.
         max(seq) OVER (PARTITION BY gateway, session_id, stream ORDER BY received_ns, seq ROWS UNBOUNDED PRECEDING) AS max_so_far
  FROM ws_receipts
  WHERE run_id = $run_id
),
sent AS (
  SELECT session_id, stream, seq FROM ws_sends WHERE run_id = $run_id
)
SELECT r.gateway,
       (SELECT count(*) FROM sent) AS sent,
       count(*) FILTER (WHERE r.copy = 1 AND s.seq IS NOT NULL) AS delivered,
       count(*) FILTER (WHERE r.copy > 1) AS duplicated,
       count(*) FILTER (WHERE r.copy = 1 AND r.seq < r.max_so_far) AS reordered,
       count(*) FILTER (WHERE s.seq IS NULL) AS unexplained
FROM receipts r
LEFT JOIN sent s ON s.session_id = r.session_id AND s.stream = r.stream AND s.seq = r.seq
GROUP BY r.gateway
ORDER BY r.gateway;
