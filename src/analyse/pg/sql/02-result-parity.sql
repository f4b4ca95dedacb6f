-- reads: pg_sends, pg_receipts
-- writes: -
-- Each statement the mirror ran against the same statement at the primary (the same send, the same place in it),
-- per statement family (the query with its tag and literals taken out): compared, differing (SQLSTATE, command tag and
-- row count, or rows), and differing in row order only where the query has no ORDER BY (SQL promises no order
-- there: noise, not a difference), with an example of each. A statement is compared only while the mirror has had
-- everything its session sent before it: after a request the pooler dropped (or the mirror never got), the mirror's
-- data may differ by that write, and the statements that follow are counted as not comparable.
WITH sent AS (
  SELECT session, send_no FROM pg_sends WHERE run_id = $run_id
),
at_mirror AS (
  SELECT DISTINCT try_cast(regexp_extract(query, '^/\*parity_send=(\d+)\*/', 1) AS BIGINT) AS send_no
  FROM pg_receipts
  WHERE run_id = $run_id AND database = 'mirror'
),
first_gap AS (
  SELECT s.session, min(s.send_no) AS send_no
  FROM sent s LEFT JOIN at_mirror m ON m.send_no = s.send_no
  WHERE m.send_no IS NULL
  GROUP BY s.session
),
r AS (
  SELECT database, query, command_tag, row_hash, row_set_hash, sqlstate,
         try_cast(regexp_extract(query, '^/\*parity_send=(\d+)\*/', 1) AS BIGINT) AS send_no,
         row_number() OVER (PARTITION BY database, regexp_extract(query, '^/\*parity_send=(\d+)\*/', 1) ORDER BY received_ns, seq) AS part
  FROM pg_receipts
  WHERE run_id = $run_id
),
pairs AS (
  SELECT regexp_replace(regexp_replace(regexp_replace(p.query, '^/\*parity_send=\d+\*/ ', ''), '''(?:[^'']|'''')*''', '?', 'g'), '(^|[^$\w])\d+(\.\d+)?\b', '\1?', 'g') AS family,
         g.send_no IS NOT NULL AND p.send_no > g.send_no AS after_gap,
         CASE
           WHEN coalesce(p.sqlstate, '') <> coalesce(m.sqlstate, '') THEN 'sqlstate ' || coalesce(p.sqlstate, 'none') || ' / ' || coalesce(m.sqlstate, 'none')
           WHEN coalesce(p.command_tag, '') <> coalesce(m.command_tag, '') THEN 'tag ' || coalesce(p.command_tag, 'none') || ' / ' || coalesce(m.command_tag, 'none')
           WHEN coalesce(p.row_hash, '') <> coalesce(m.row_hash, '') THEN
             CASE WHEN p.row_set_hash = m.row_set_hash AND NOT regexp_matches(p.query, '(?i)\border\s+by\b') THEN 'order' ELSE 'rows' END
           ELSE 'same'
         END AS outcome
  FROM r p
  JOIN r m ON m.database = 'mirror' AND m.send_no = p.send_no AND m.part = p.part
  JOIN sent s ON s.send_no = p.send_no
  LEFT JOIN first_gap g ON g.session = s.session
  WHERE p.database = 'primary' AND p.send_no IS NOT NULL
)
SELECT family,
       count(*) FILTER (WHERE NOT after_gap) AS compared,
       count(*) FILTER (WHERE NOT after_gap AND outcome NOT IN ('same', 'order')) AS differing,
       count(*) FILTER (WHERE NOT after_gap AND outcome = 'order') AS order_only,
       count(*) FILTER (WHERE after_gap) AS not_comparable,
       min(outcome) FILTER (WHERE NOT after_gap AND outcome NOT IN ('same', 'order')) AS example
FROM pairs
GROUP BY family
ORDER BY differing DESC, family;
