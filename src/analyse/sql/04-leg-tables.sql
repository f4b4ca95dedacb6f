-- reads: -
-- writes: backend_legs
-- The table 05 fills one backend at a time: a run's sorts are split by backend, so a day of traffic sorts
-- half (or a third) as much at once and spills less.
CREATE OR REPLACE TEMP TABLE backend_legs (uplink_id BIGINT, backend VARCHAR, received_ns BIGINT, reordered BOOLEAN, ack_ns BIGINT, ack_kind VARCHAR, ack_hash BIGINT);
