-- reads: uplink, receipts, observations, ack_keying, repeated_answers, device_gaps, packet_parity_names
-- writes: backend_legs
-- One row per uplink packet and backend (and one with no uplink_id per answer tied to no request, below): its
-- receipt, the backend's k-th copy of that payload on that route; whether it reached the backend after a packet its
-- device had sent later (reordered: a window over the device's packets in the order they were sent, partitioned by
-- one 64-bit hash of the device's socket); and the backend's ACK, the first answer to the same relay socket with the
-- same correlation (request hash, else match key) at or after it (ASOF; the ACK window is applied in 05c).
-- Reordering is judged here, on the rows that already carry the device and the send time: a step of its own joined
-- the uplink again and its result back in (a fifth of the correlation's time).
-- Run once per backend ($backend): the backends are the observed ones and those the run's topology says carry
-- traffic, so a backend nothing of which was observed still gets its rows, a dead leg as 100% loss, never an absent
-- one; with none at all, one pseudo-backend carries the devices' view (sends and the ACKs they got).
INSERT INTO backend_legs
-- Materialized: read by the spread and by both sides of the window's split below (inlined, 05 took 1.17-1.58 s for two
-- backends against 1.13-1.31 s).
WITH received AS MATERIALIZED (
  SELECT uplink_id, received_ns, device_socket, sent_ns,
         key_a($backend, route_port, relay_socket, 0, by_hash, corr) AS key_a,
         key_b($backend, route_port, relay_socket, 0, by_hash, corr) AS key_b
  FROM (
    SELECT u.uplink_id, r.ts_ns AS received_ns, u.device_socket, u.sent_ns, u.route_port,
           r.relay_socket, coalesce(k.by_hash, false) AS by_hash,
           request_corr(k.by_hash, u.payload_hash, u.match_key) AS corr
    FROM uplink u
    LEFT JOIN ack_keying k ON k.backend = $backend
    LEFT JOIN receipts r
      ON r.backend_no = $backend_no AND r.route_port = u.route_port AND r.payload_hash = u.payload_hash AND r.occurrence = u.occurrence
  )
),
-- What the backend answered (leg X>relay), to the relay socket it received the request on, under the same key: the
-- request's hash where its observer gave it (by_hash), else the protocol's match key. Read from the observations
-- here, once per backend: a table of every backend's answers with their keys cost more to write than to recompute.
answers AS MATERIALIZED (
  SELECT key_a($backend, route_port, relay_socket, 0, by_hash, corr) AS key_a,
         key_b($backend, route_port, relay_socket, 0, by_hash, corr) AS key_b,
         ts_ns, kind, payload_hash
  FROM (
    SELECT o.route_port, hash(o.dst_ip, o.dst_port) AS relay_socket, o.reply_to_hash IS NOT NULL AS by_hash,
           answer_corr(o.reply_to_hash, o.match_key) AS corr, o.ts_ns, k.no AS kind, o.payload_hash
    FROM observations o
    -- The answer's kind as its number (00c).
    LEFT JOIN packet_parity_names k ON k.run_id = $run_id AND k.field = 'ack_kind' AND k.name = o.kind
    WHERE o.run_id = $run_id AND o.leg = $backend || '>relay'
  )
),
-- How far apart this backend's forward latencies lie: a packet is overtaken only by one its device sent less than
-- this after it (01b), so only devices that sent faster than that go through the window.
spread AS (SELECT max(received_ns - sent_ns) - min(received_ns - sent_ns) AS ns FROM received),
overtakable AS (SELECT device_socket FROM device_gaps, spread WHERE min_gap < spread.ns),
-- Only the key and the times go through the window and the ASOF join: each sorts what it carries. Read twice below.
keyed AS MATERIALIZED (
  SELECT uplink_id, received_ns, key_a, key_b,
         -- max() skips the packets that never arrived. The frame ends at the packet itself, not the one before: the
         -- running max is then one pass, not a segment tree (the window operator 0.42-0.50 s of CPU against 0.65-0.78 s
         -- a backend on the bench's run, by EXPLAIN ANALYZE), and a packet is below it only when one sent before it
         -- arrived later, as before.
         received_ns < max(received_ns) OVER (PARTITION BY device_socket ORDER BY sent_ns, uplink_id
                                              ROWS UNBOUNDED PRECEDING) AS reordered
  FROM received SEMI JOIN overtakable USING (device_socket)
  UNION ALL
  SELECT uplink_id, received_ns, key_a, key_b, false AS reordered
  FROM received ANTI JOIN overtakable USING (device_socket)
),
-- Most keys are answered once: for those, the first answer at or after the receipt is that answer if it is not
-- earlier, found by a hash join; only keys answered more than once (05a) go through the ASOF join, which sorts both
-- sides (every request through it cost 10% more on the bench's run). An answer of those that no request it followed
-- had asked for comes out of the same join (FULL) as a row with no uplink packet: 05e counts it against the backend.
repeated AS (SELECT key_a, key_b FROM repeated_answers WHERE backend = $backend),
answered AS (
  SELECT l.uplink_id, l.received_ns, l.reordered, a.ts_ns, a.kind, a.payload_hash
  FROM (FROM keyed ANTI JOIN repeated USING (key_a, key_b)) l
  FULL JOIN (FROM answers ANTI JOIN repeated USING (key_a, key_b)) a ON a.key_a = l.key_a AND a.key_b = l.key_b AND a.ts_ns >= l.received_ns
  UNION ALL
  SELECT l.uplink_id, l.received_ns, l.reordered, a.ts_ns, a.kind, a.payload_hash
  FROM (FROM keyed SEMI JOIN repeated USING (key_a, key_b)) l
  ASOF LEFT JOIN (FROM answers SEMI JOIN repeated USING (key_a, key_b)) a ON a.key_a = l.key_a AND a.key_b = l.key_b AND a.ts_ns >= l.received_ns
)
SELECT uplink_id, $backend_no AS backend_no, received_ns, coalesce(reordered, false) AS reordered,
       ts_ns AS ack_ns, kind AS ack_kind_no, payload_hash AS ack_hash
FROM answered;
