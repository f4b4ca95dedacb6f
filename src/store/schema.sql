-- relay-parity store: one DuckDB file holds any number of captures and runs (docs/architecture.md).
-- Every table carries capture_id or run_id; nothing is deleted by a later run. Times are nanoseconds:
-- capture times are wall-clock (pcap), run times are CLOCK_MONOTONIC of the host that ran it.

CREATE SEQUENCE IF NOT EXISTS capture_id_seq START 1;

CREATE TABLE IF NOT EXISTS captures (
  capture_id          INTEGER PRIMARY KEY DEFAULT nextval('capture_id_seq'),
  name                VARCHAR NOT NULL UNIQUE,
  source              VARCHAR NOT NULL,            -- file path(s), or 'tap' / 'live:<iface>' for recordings
  format              VARCHAR,                     -- pcap, pcap-nsec, pcapng, tap
  imported_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
  frames              BIGINT NOT NULL DEFAULT 0,   -- frames read from the file(s)
  udp_datagrams       BIGINT NOT NULL DEFAULT 0,   -- UDP datagrams found (before any port filter)
  kept_datagrams      BIGINT NOT NULL DEFAULT 0,   -- rows in capture_packets
  truncated_datagrams BIGINT NOT NULL DEFAULT 0,   -- kept datagrams whose payload the snap length cut
  non_udp_frames      BIGINT NOT NULL DEFAULT 0,
  unsupported_frames  BIGINT NOT NULL DEFAULT 0,   -- frames of link types the reader does not decode
  route_ports         INTEGER[],                   -- ports that receive device uplink (from --port, else inferred)
  first_ts_ns         BIGINT,
  last_ts_ns          BIGINT,
  partial             BOOLEAN NOT NULL DEFAULT false,  -- reading stopped at a fault; every frame before it is kept
  error               VARCHAR,                     -- the fault, with its byte offset
  decode_stats        JSON                         -- per link type counts, fragments, malformed headers
);

-- A capture is written in batches; until its writer finishes it, it is unfinished. One whose writer is gone (killed)
-- keeps what was committed and is listed partial, never ok. Rows from before this column default to finished.
ALTER TABLE captures ADD COLUMN IF NOT EXISTS finished BOOLEAN DEFAULT true;
ALTER TABLE captures ADD COLUMN IF NOT EXISTS owner_pid INTEGER;
ALTER TABLE captures ADD COLUMN IF NOT EXISTS owner_host VARCHAR;

-- The relay's own addresses in a capture taken on its host: uplink is what reaches a route port there. NULL: any.
ALTER TABLE captures ADD COLUMN IF NOT EXISTS relay_address_ids INTEGER[];

-- The addresses of a capture, each stored once: a capture has few devices and millions of packets, and
-- integer ids instead of address text per packet double DuckDB's append rate.
CREATE TABLE IF NOT EXISTS capture_addresses (
  capture_id   INTEGER NOT NULL,
  address_id   INTEGER NOT NULL,
  ip           VARCHAR NOT NULL,
  ip_version   UTINYINT NOT NULL
);

CREATE TABLE IF NOT EXISTS capture_packets (
  capture_id   INTEGER NOT NULL,
  idx          UINTEGER NOT NULL,   -- datagram number within the capture, in file order
  frame_no     UINTEGER NOT NULL,   -- 1-based frame number in the file, as Wireshark shows it
  ts_ns        BIGINT NOT NULL,     -- wall-clock nanoseconds since the epoch
  src_address  INTEGER NOT NULL,    -- capture_addresses.address_id
  src_port     INTEGER NOT NULL,
  dst_address  INTEGER NOT NULL,
  dst_port     INTEGER NOT NULL,
  wire_bytes   INTEGER NOT NULL,    -- payload length the UDP header declares
  truncated    BOOLEAN NOT NULL,    -- payload shorter than wire_bytes
  payload_hash BIGINT NOT NULL,     -- src/core/payload-hash.ts
  payload      BLOB NOT NULL
);

-- HTTP exchanges of a capture imported from a HAR file (the HTTP family): one row per request and its response.
CREATE TABLE IF NOT EXISTS http_exchanges (
  capture_id       INTEGER NOT NULL,
  idx              UINTEGER NOT NULL,   -- exchange number in the file, in order
  ts_ns            BIGINT NOT NULL,     -- wall-clock ns the request started (0: the file did not say)
  method           VARCHAR NOT NULL,
  url              VARCHAR NOT NULL,
  http_version     VARCHAR,
  request_headers  VARCHAR NOT NULL,    -- JSON [[name, value], ...] in the order sent
  request_body     BLOB,                -- NULL: the file declares a body it did not record
  status           INTEGER,             -- NULL: no response was recorded
  response_headers VARCHAR NOT NULL,    -- JSON, as request_headers
  response_body    BLOB,
  duration_ms      DOUBLE,
  missing          VARCHAR              -- what the entry lacked, comma-separated; NULL when complete
);

-- Each HTTP request a replay sent (the HTTP family): the client's leg, and the answer it got.
CREATE TABLE IF NOT EXISTS http_sends (
  run_id           INTEGER NOT NULL,
  send_no          UINTEGER NOT NULL,   -- order of sending within the run
  exchange_idx     UINTEGER NOT NULL,   -- http_exchanges.idx replayed
  loop_no          INTEGER NOT NULL,
  request_id       VARCHAR NOT NULL,    -- the X-Request-ID it carried: ties every leg of the request together
  method           VARCHAR NOT NULL,
  path             VARCHAR NOT NULL,
  body_bytes       INTEGER NOT NULL,
  body_hash        BIGINT NOT NULL,     -- src/core/payload-hash.ts of the body sent
  scheduled_ns     BIGINT NOT NULL,
  actual_ns        BIGINT NOT NULL,
  answered_ns      BIGINT,              -- NULL: no answer came
  status           INTEGER,
  response_bytes   INTEGER,
  response_hash    BIGINT,
  routed_to        VARCHAR,             -- the answer's X-Routed-To, where the proxy says so
  error            VARCHAR              -- why no answer came
);

ALTER TABLE http_sends ADD COLUMN IF NOT EXISTS route_reason VARCHAR;        -- the answer's X-Route-Reason
ALTER TABLE http_sends ADD COLUMN IF NOT EXISTS echoed_request_id VARCHAR;   -- the answer's X-Request-ID: the id the proxy says it used
ALTER TABLE http_sends ADD COLUMN IF NOT EXISTS response_headers VARCHAR;    -- the answer's headers, JSON {name: value}, names lower-case

-- Each request a backend of an HTTP run received, as it received it, and what it answered (the HTTP family's legs
-- proxy>live and proxy>shadow, with their answers). Tied to the client's send by request_id.
CREATE TABLE IF NOT EXISTS http_receipts (
  run_id           INTEGER NOT NULL,
  backend          VARCHAR NOT NULL,    -- its role: live, shadow
  request_id       VARCHAR,             -- its X-Request-ID; NULL: it came without one
  method           VARCHAR NOT NULL,
  path             VARCHAR NOT NULL,
  headers          VARCHAR NOT NULL,    -- JSON {name: value}, names lower-case, as received
  content_length   BIGINT,              -- the Content-Length header; NULL: absent
  body_bytes       INTEGER NOT NULL,
  body_hash        BIGINT NOT NULL,     -- src/core/payload-hash.ts of the body received
  received_ns      BIGINT NOT NULL,
  answered_ns      BIGINT,              -- NULL: the connection was reset instead
  status           INTEGER,
  response_body    BLOB
);

-- Response fields compared between the live and the shadow answer of each request (written by the analysis): how
-- often each differed, and how often it differs between two copies of the same version (its noise, from an A/A run).
CREATE TABLE IF NOT EXISTS http_field_parity (
  run_id           INTEGER NOT NULL,
  backend          VARCHAR NOT NULL,    -- the backend compared with the reference (live)
  field            VARCHAR NOT NULL,    -- a JSON path: items, lines[].amount; (status) for the status line
  compared         INTEGER NOT NULL,
  differing        INTEGER NOT NULL,
  noise_rate       DOUBLE,              -- its differing share in the A/A run; NULL: no A/A run
  counted          BOOLEAN NOT NULL,    -- a difference beyond its noise: judged
  example_live     VARCHAR,
  example_shadow   VARCHAR
);

-- Telemetry frames of a capture (the WebSocket family): one row per frame, as recorded (newline-delimited JSON).
CREATE TABLE IF NOT EXISTS ws_frames (
  capture_id       INTEGER NOT NULL,
  idx              UINTEGER NOT NULL,   -- frame number in the recording, in order
  ts_ns            BIGINT NOT NULL,     -- wall-clock ns it was recorded (0: the recording did not say)
  session_id       VARCHAR NOT NULL,
  stream           VARCHAR NOT NULL,
  seq              BIGINT NOT NULL,     -- its sequence number in its stream (numbered in order where the recording had none)
  frame            VARCHAR NOT NULL     -- the frame's JSON as recorded
);

-- PostgreSQL statements read out of a capture's TCP (the Postgres family): each with the answer it got, in the order of
-- its session (session: client -> server; seq from 0).
CREATE TABLE IF NOT EXISTS pg_statements (
  capture_id       INTEGER NOT NULL,
  idx              UINTEGER NOT NULL,   -- in the order the answers ended
  session          VARCHAR NOT NULL,
  seq              UINTEGER NOT NULL,
  ts_ns            BIGINT NOT NULL,     -- capture time of the client's message that ran it
  end_ns           BIGINT,              -- of the end of its answer (null: never answered)
  db_user          VARCHAR,
  database         VARCHAR,
  application      VARCHAR,
  kind             VARCHAR NOT NULL,    -- simple | extended
  query            VARCHAR NOT NULL,
  params           VARCHAR,             -- extended: the bound parameters as a JSON array (binary as \x hex)
  command_tag      VARCHAR,
  row_count        BIGINT,
  row_hash         VARCHAR,             -- SHA-256 of the rows returned, in order
  sqlstate         VARCHAR,
  error            VARCHAR
);
-- The data a client sent after a COPY ... FROM STDIN, for the replay to send again (NULL: none, or not recorded).
ALTER TABLE pg_statements ADD COLUMN IF NOT EXISTS copy_data BLOB;

-- Each statement a replay sent through the pooler (the Postgres family), with the answer the client got.
CREATE TABLE IF NOT EXISTS pg_sends (
  run_id           INTEGER NOT NULL,
  send_no          UINTEGER NOT NULL,
  session          VARCHAR NOT NULL,    -- the recorded session it belongs to
  seq              UINTEGER NOT NULL,
  query            VARCHAR NOT NULL,
  scheduled_ns     BIGINT NOT NULL,
  actual_ns        BIGINT NOT NULL,
  done_ns          BIGINT NOT NULL,
  command_tag      VARCHAR,
  row_count        BIGINT,
  sqlstate         VARCHAR
);
-- Why a statement got no answer (added after the first stores were made): the connection closed first, or the
-- replay's answer timeout ran out; NULL for every answered statement, an error's included.
ALTER TABLE pg_sends ADD COLUMN IF NOT EXISTS error VARCHAR;

-- What each database received and answered, as the tap in front of it saw (the Postgres family): the mirror's answers
-- are seen only here, since the pooler throws them away.
CREATE TABLE IF NOT EXISTS pg_receipts (
  run_id           INTEGER NOT NULL,
  database         VARCHAR NOT NULL,    -- primary | mirror
  session          VARCHAR NOT NULL,
  seq              UINTEGER NOT NULL,
  received_ns      BIGINT NOT NULL,
  answered_ns      BIGINT,
  query            VARCHAR NOT NULL,
  params           VARCHAR,
  command_tag      VARCHAR,
  row_count        BIGINT,
  row_hash         VARCHAR,
  row_set_hash     VARCHAR,             -- the rows as a multiset (order left out)
  sqlstate         VARCHAR
);

-- Each frame a replay fed the relay agent (the WebSocket family).
CREATE TABLE IF NOT EXISTS ws_sends (
  run_id           INTEGER NOT NULL,
  send_no          UINTEGER NOT NULL,
  session_id       VARCHAR NOT NULL,
  stream           VARCHAR NOT NULL,
  seq              BIGINT NOT NULL,     -- as sent: the recording's, offset per loop so that every send is its own frame
  scheduled_ns     BIGINT NOT NULL,
  actual_ns        BIGINT NOT NULL
);

-- Each frame a gateway processed (the WebSocket family's legs agent>gateway), as the gateway saw it.
CREATE TABLE IF NOT EXISTS ws_receipts (
  run_id           INTEGER NOT NULL,
  gateway          VARCHAR NOT NULL,
  session_id       VARCHAR NOT NULL,
  stream           VARCHAR NOT NULL,
  seq              BIGINT NOT NULL,
  received_ns      BIGINT NOT NULL,
  ack_requested    BOOLEAN NOT NULL
);

-- What real gateways said they processed (their /api/dev/diagnostics/parity) of each session a run sent: per stream,
-- and per session on the row with stream '*' (its duplicates and out-of-order frames). error: the gateway could not be
-- asked (the counts are then unknown, not zero).
CREATE TABLE IF NOT EXISTS ws_gateway_diagnostics (
  run_id           INTEGER NOT NULL,
  gateway          VARCHAR NOT NULL,
  session_id       VARCHAR NOT NULL,
  stream           VARCHAR NOT NULL,
  frames_in        BIGINT NOT NULL,
  acked            BIGINT NOT NULL,
  duplicates       BIGINT NOT NULL,
  out_of_order     BIGINT NOT NULL,
  error            VARCHAR
);

-- What the relay agent said of each target at the end of a run (its /debug/targets and /debug/parity), and the
-- largest queue it was seen holding: checked against what the gateways really processed.
CREATE TABLE IF NOT EXISTS ws_agent_targets (
  run_id           INTEGER NOT NULL,
  gateway          VARCHAR NOT NULL,
  url              VARCHAR NOT NULL,
  sent             BIGINT NOT NULL,
  acked            BIGINT NOT NULL,
  failed           BIGINT NOT NULL,
  dropped          BIGINT NOT NULL,
  max_queue        INTEGER NOT NULL,
  ack_p50_ms       DOUBLE,
  ack_p95_ms       DOUBLE
);

-- capture_packets with its addresses as text: what to query by hand.
CREATE OR REPLACE VIEW capture_datagrams AS
SELECT p.capture_id, p.idx, p.frame_no, p.ts_ns,
       s.ip AS src_ip, p.src_port, d.ip AS dst_ip, p.dst_port, s.ip_version,
       p.wire_bytes, p.truncated, p.payload_hash, p.payload
FROM capture_packets p
JOIN capture_addresses s ON s.capture_id = p.capture_id AND s.address_id = p.src_address
JOIN capture_addresses d ON d.capture_id = p.capture_id AND d.address_id = p.dst_address;

-- A run: one replay or recording through a relay, with what it was asked to do, all stored with it.
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;

CREATE TABLE IF NOT EXISTS runs (
  run_id       INTEGER PRIMARY KEY DEFAULT nextval('run_id_seq'),
  name         VARCHAR NOT NULL UNIQUE,
  kind         VARCHAR NOT NULL,            -- replay, record, scenario
  capture_id   INTEGER,                     -- the capture replayed, if any
  protocol     VARCHAR NOT NULL DEFAULT 'generic',
  relay        VARCHAR,                     -- the relay under test, host[:port]
  plan         JSON,                        -- timing plan, as asked
  topology     JSON,                        -- relay, backends and how each leg is observed
  thresholds   JSON,
  status       VARCHAR NOT NULL,            -- running, completed, interrupted, failed
  started_at   TIMESTAMP NOT NULL DEFAULT current_timestamp,
  ended_at     TIMESTAMP,
  started_ns   BIGINT,                      -- CLOCK_MONOTONIC of the host, as observations
  ended_ns     BIGINT,
  stats        JSON                         -- what the replayer or recorder counted
);

-- Who owns a running run: a run still 'running' whose owner is gone from this host was abandoned (killed).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS owner_pid INTEGER;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS owner_host VARCHAR;
-- The host's wall clock minus its monotonic clock when the run was created: puts the ns times of runs recorded on
-- several hosts on one time axis when they are assembled into one (store/assemble-run.ts).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS wall_offset_ns BIGINT;
-- How late the event loop of the process that timestamped the run's legs ran (run/harness-lag.ts), p99 and worst, ms:
-- latencies are judged only to within it. NULL: not measured (a run written before, or by another tool).
ALTER TABLE runs ADD COLUMN IF NOT EXISTS harness_lag_p99_ms DOUBLE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS harness_lag_max_ms DOUBLE;

-- The replayer's record of every packet it fired: the device>relay leg of a replay.
CREATE TABLE IF NOT EXISTS sends (
  run_id        INTEGER NOT NULL,
  send_no       UINTEGER NOT NULL,          -- order of sending within the run
  capture_idx   UINTEGER NOT NULL,          -- capture_packets.idx replayed
  loop_no       INTEGER NOT NULL,
  device        VARCHAR NOT NULL,           -- the original device, ip:port in the capture
  local_ip      VARCHAR NOT NULL,           -- the address the replayer sent it from
  local_port    INTEGER NOT NULL,
  route_port    INTEGER NOT NULL,           -- the capture's destination port
  relay_port    INTEGER NOT NULL,           -- the relay port it was sent to (after --port-map)
  scheduled_ns  BIGINT NOT NULL,
  actual_ns     BIGINT NOT NULL,
  payload_hash  BIGINT NOT NULL,
  payload_bytes INTEGER NOT NULL,
  kind          VARCHAR NOT NULL,           -- the protocol's message kind
  wants_ack     BOOLEAN NOT NULL,
  match_key     VARCHAR,                    -- ties the ACK to this request within the device's flow
  device_id     VARCHAR,                    -- mobile ID / IMEI where the protocol carries one
  error         VARCHAR                     -- why the send failed, if it did
);

-- One packet seen on one leg at one time, by whoever saw it (docs/architecture.md, Data model).
-- Payloads are kept for replies (the ACK legs), where parity compares bytes; uplink legs keep their hash.
CREATE TABLE IF NOT EXISTS observations (
  run_id        INTEGER NOT NULL,
  leg           VARCHAR NOT NULL,           -- device>relay, relay>device, relay>primary, primary>relay, ...
  ts_ns         BIGINT NOT NULL,
  src_ip        VARCHAR NOT NULL,
  src_port      INTEGER NOT NULL,
  dst_ip        VARCHAR NOT NULL,
  dst_port      INTEGER NOT NULL,
  route_port    INTEGER NOT NULL,
  payload_bytes INTEGER NOT NULL,
  payload_hash  BIGINT NOT NULL,
  kind          VARCHAR NOT NULL,
  match_key     VARCHAR,
  observer      VARCHAR NOT NULL,           -- replayer, backend:primary, tap:20500, pcap, ...
  payload       BLOB,
  reply_to_hash BIGINT                      -- for a reply: the payload hash of the request it answers, when the observer knows
);

-- Columns added after a table's first release: stores made by earlier versions gain them on open.
ALTER TABLE observations ADD COLUMN IF NOT EXISTS reply_to_hash BIGINT;

-- What the relay under test said about itself while the run went on (polled /debug/* and /metrics).
CREATE TABLE IF NOT EXISTS relay_samples (
  run_id   INTEGER NOT NULL,
  ts_ns    BIGINT NOT NULL,
  endpoint VARCHAR NOT NULL,
  body     VARCHAR NOT NULL
);

-- Analysis (src/analyse): derived from sends and observations; `parity analyse` replaces a run's rows each time.

-- One row per uplink packet and backend: what became of it on that backend's legs (packet_parity, below, is what is
-- read). Only what cannot be computed is stored: storing 4M rows' five latencies as DOUBLEs and three flags took a
-- fifth of writing the table, and the same computed as generated columns another 0.15-0.24 s of its 1.9 s, since
-- DuckDB evaluates every generated column of every row it inserts to check it (docs/performance.md). The ACK times
-- are kept only within the ACK window, so a latency is NULL exactly where its ACK did not count. The device, the
-- backend and the ACK's kind are stored as numbers (packet_parity_names): DuckDB stores a string column at 0.13-0.17 s
-- a 4M rows whatever its values, and carries strings through the joins that make the rows (05c 1.15 s against 1.7 s).
CREATE TABLE IF NOT EXISTS packet_parity_rows (
  run_id            INTEGER NOT NULL,
  uplink_id         BIGINT NOT NULL,        -- sends.send_no (or the device>relay observation's number)
  device_no         INTEGER NOT NULL,       -- packet_parity_names, field 'device'
  route_port        INTEGER NOT NULL,
  backend_no        INTEGER NOT NULL,       -- field 'backend': primary, mirror, target-N
  sent_ns           BIGINT NOT NULL,
  wants_ack         BOOLEAN NOT NULL,
  match_key         VARCHAR,
  received_ns       BIGINT,                 -- relay>backend: the backend received it
  reordered         BOOLEAN,                -- arrived before a packet its device sent earlier
  ack_kind_no       INTEGER,                -- field 'ack_kind': ack, nak, ...
  ack_hash          BIGINT,
  ack_match         BOOLEAN,                -- same ACK as the reference backend's, after the ignore-mask
  mismatch_fields   VARCHAR,                -- e.g. 'appVersion'
  -- The devices' view, on the reference backend's row of each request.
  device_ack_hash   BIGINT,                 -- the ACK the device got
  device_ack_match  BOOLEAN,                -- it equals the reference backend's ACK, after the ignore-mask
  device_mismatch_fields VARCHAR,
  one_sided_ack     BOOLEAN,                -- delivered to both, wanted an ACK, answered by this backend or the reference only
  ack_ns            BIGINT,                 -- the backend's ACK, within the ACK window of its receipt
  device_ack_ns     BIGINT                  -- the ACK at the device, within the ACK window of the send
);

-- The names packet_parity_rows's numbers stand for, per run: each device, backend and ACK kind, numbered from 1.
CREATE TABLE IF NOT EXISTS packet_parity_names (
  run_id INTEGER NOT NULL,
  field  VARCHAR NOT NULL,                  -- device, backend, ack_kind
  no     INTEGER NOT NULL,
  name   VARCHAR NOT NULL
);

-- The stored row with what follows from its times, names still as numbers: what the analysis's own steps read
-- (08, 10, 11), which name only the few rows they write. Each latency is defined once, in nanoseconds, and given in
-- milliseconds from it; the metrics take their percentiles of the nanoseconds (08 0.21 s against 0.32 s on the bench's
-- 10M-observation run) and convert the few results.
CREATE OR REPLACE VIEW packet_parity_numbered AS
SELECT
  run_id, uplink_id, device_no, route_port, backend_no, sent_ns, wants_ack, match_key,
  received_ns IS NOT NULL AS delivered,                                                   -- the backend received it
  received_ns,
  forward_latency_ns / 1e6 AS forward_latency_ms,
  reordered,
  -- the backend answered (NULL when no answer was asked, or it never got the request)
  CASE WHEN wants_ack AND received_ns IS NOT NULL THEN ack_ns IS NOT NULL END AS acked,
  ack_kind_no,
  ack_latency_ns / 1e6 AS ack_latency_ms,
  backend_ack_latency_ns / 1e6 AS backend_ack_latency_ms,
  ack_hash, ack_match, mismatch_fields,
  CASE WHEN wants_ack THEN device_ack_ns IS NOT NULL END AS device_acked,                 -- an ACK reached the device
  round_trip_ns / 1e6 AS round_trip_ms,
  device_ack_hash, device_ack_match, device_mismatch_fields,
  relay_added_ns / 1e6 AS relay_added_ms,
  one_sided_ack, ack_ns, device_ack_ns,
  forward_latency_ns, ack_latency_ns, backend_ack_latency_ns, round_trip_ns, relay_added_ns
FROM (
  SELECT
    *,
    received_ns - sent_ns AS forward_latency_ns,                                          -- relay>backend minus device send
    ack_ns - sent_ns AS ack_latency_ns,                                                   -- backend's ACK minus device send
    ack_ns - received_ns AS backend_ack_latency_ns,                                       -- the backend's own time
    device_ack_ns - sent_ns AS round_trip_ns,                                             -- device send to the ACK reaching it
    -- round trip minus the backend's own ACK time: what the relay added
    (device_ack_ns - sent_ns) - (ack_ns - received_ns) AS relay_added_ns
  FROM packet_parity_rows
);

-- What is read, exported and reported: each row named, in the order the table had when its latencies were generated
-- columns (stores made before are carried over on open: packet-parity-migration.ts).
CREATE OR REPLACE VIEW packet_parity AS
SELECT
  p.run_id, uplink_id, d.name AS device, route_port, b.name AS backend, sent_ns, wants_ack, match_key, delivered,
  received_ns, forward_latency_ms, reordered, acked, k.name AS ack_kind, ack_latency_ms, backend_ack_latency_ms,
  ack_hash, ack_match, mismatch_fields, device_acked, round_trip_ms, device_ack_hash, device_ack_match,
  device_mismatch_fields, relay_added_ms, one_sided_ack, ack_ns, device_ack_ns
FROM packet_parity_numbered p
LEFT JOIN packet_parity_names d ON d.run_id = p.run_id AND d.field = 'device' AND d.no = p.device_no
LEFT JOIN packet_parity_names b ON b.run_id = p.run_id AND b.field = 'backend' AND b.no = p.backend_no
LEFT JOIN packet_parity_names k ON k.run_id = p.run_id AND k.field = 'ack_kind' AND k.no = p.ack_kind_no;

-- Metrics per route and backend (route_port NULL: all routes; backend NULL: device or run level), long format.
CREATE TABLE IF NOT EXISTS route_metrics (
  run_id     INTEGER NOT NULL,
  route_port INTEGER,
  customer   VARCHAR,
  device_label VARCHAR,
  backend    VARCHAR,
  metric     VARCHAR NOT NULL,
  value      DOUBLE,
  unit       VARCHAR NOT NULL,
  status     VARCHAR                        -- healthy, warning, critical, inconclusive; NULL when no threshold applies
);
-- ± the machine's own variation, on values compared across runs (a latency with and without a shadow); NULL elsewhere.
ALTER TABLE route_metrics ADD COLUMN IF NOT EXISTS uncertainty DOUBLE;

-- Delivered packets per backend per 10 s window of the run: drift over time.
CREATE TABLE IF NOT EXISTS drift_windows (
  run_id       INTEGER NOT NULL,
  window_start_s DOUBLE NOT NULL,
  route_port   INTEGER NOT NULL,
  backend      VARCHAR NOT NULL,
  sent         BIGINT NOT NULL,
  delivered    BIGINT NOT NULL
);

-- The verdict of each analysis of a run, with its findings and the thresholds it applied.
CREATE TABLE IF NOT EXISTS verdicts (
  run_id      INTEGER NOT NULL,
  analysed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
  verdict     VARCHAR NOT NULL,             -- GO, GO_WITH_WARNINGS, NO_GO, INCOMPLETE, INCONCLUSIVE
  findings    JSON NOT NULL,
  thresholds  JSON NOT NULL,
  baseline    VARCHAR
);
