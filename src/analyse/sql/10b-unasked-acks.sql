-- reads: unasked_acks
-- writes: -
-- The ACKs devices got beyond what they asked for (05d), per route they came on.
SELECT route_port, unasked FROM unasked_acks;
