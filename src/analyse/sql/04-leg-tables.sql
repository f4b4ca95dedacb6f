-- reads: -
-- writes: backend_legs, repeated_answers, extra_answers, device_acks
-- The tables 05a and 05 fill one backend at a time: a run's sorts are split by backend, so a day of traffic sorts
-- half (or a third) as much at once and spills less.
CREATE OR REPLACE TEMP TABLE backend_legs (uplink_id BIGINT, backend_no INTEGER, received_ns BIGINT, reordered BOOLEAN, ack_ns BIGINT, ack_kind_no INTEGER, ack_hash BIGINT);
-- The keys each backend answered more than once (05a); what it answered beyond what it was asked (05e), and the
-- device each extra answer was owed to.
CREATE OR REPLACE TEMP TABLE repeated_answers (backend VARCHAR, route_port INTEGER, relay_socket UBIGINT, by_hash BOOLEAN, corr UBIGINT, key_a UBIGINT, key_b UBIGINT, answers BIGINT, match_key VARCHAR);
CREATE OR REPLACE TEMP TABLE extra_answers (backend VARCHAR, route_port INTEGER, extra BIGINT, device_socket UBIGINT, match_key VARCHAR);
-- What reached each device for each of its requests (05b, a slice of the uplink at a time).
CREATE OR REPLACE TEMP TABLE device_acks (uplink_id BIGINT, device_no INTEGER, route_port INTEGER, sent_ns BIGINT, wants_ack BOOLEAN, match_key VARCHAR, device_ack_ns BIGINT, device_ack_hash BIGINT);
