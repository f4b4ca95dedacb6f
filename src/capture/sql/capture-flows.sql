-- A capture's flows: each pair of sending and receiving endpoints, with its datagrams. The queries that summarise a
-- capture after its import (its route ports, the relay's legs) read these instead of every packet each.
CREATE OR REPLACE TEMP TABLE capture_flows AS
SELECT src_address, src_port, dst_address, dst_port, count(*) AS datagrams
FROM capture_packets WHERE capture_id = $capture_id
GROUP BY ALL;
