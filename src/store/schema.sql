-- relay-parity store: one DuckDB file holds any number of captures and runs (DESIGN.md, Conventions).
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

CREATE TABLE IF NOT EXISTS capture_packets (
  capture_id   INTEGER NOT NULL,
  idx          UINTEGER NOT NULL,   -- datagram number within the capture, in file order
  frame_no     UINTEGER NOT NULL,   -- 1-based frame number in the file, as Wireshark shows it
  ts_ns        BIGINT NOT NULL,     -- wall-clock nanoseconds since the epoch
  ip_version   UTINYINT NOT NULL,
  src_ip       VARCHAR NOT NULL,
  src_port     INTEGER NOT NULL,
  dst_ip       VARCHAR NOT NULL,
  dst_port     INTEGER NOT NULL,
  wire_bytes   INTEGER NOT NULL,    -- payload length the UDP header declares
  truncated    BOOLEAN NOT NULL,    -- payload shorter than wire_bytes
  payload_hash BIGINT NOT NULL,     -- src/core/payload-hash.ts
  payload      BLOB NOT NULL
);
