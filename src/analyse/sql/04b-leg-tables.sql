-- reads: -
-- writes: backend_legs, reordered
-- The tables 05 and 05b fill one backend at a time: a run's sorts are split by backend, so a day of traffic sorts
-- half (or a third) as much at once and spills less.
CREATE OR REPLACE TEMP TABLE backend_legs (uplink_id BIGINT, backend VARCHAR, received_ns BIGINT, ack_ns BIGINT, ack_kind VARCHAR, ack_hash BIGINT);
CREATE OR REPLACE TEMP TABLE reordered (uplink_id BIGINT, backend VARCHAR);
