-- reads: uplink
-- writes: device_gaps
-- Each device's shortest time between two of its sends, in the order 05 judges reordering in. A packet can only be
-- overtaken by one its device sent less than the spread of a backend's forward latencies later (05: one sent at s
-- with latency l arrives after one sent at s' > s with l' only if s' - s < l - l'), so 05 runs its window, a sort of
-- every packet, only over the devices that sent faster than that spread. A fleet of devices that each send now and
-- then skips it: one sort here for all backends instead of one per backend (05 0.35-0.45 s faster for two on the
-- bench's run, this step 0.19-0.22 s: the device's hash taken once a row, not for the partition and the column apart).
CREATE OR REPLACE TEMP TABLE device_gaps AS
SELECT device_socket, min(gap) AS min_gap
FROM (
  SELECT device_socket, sent_ns - lag(sent_ns) OVER (PARTITION BY device_socket ORDER BY sent_ns, uplink_id) AS gap
  FROM (SELECT device_socket, sent_ns, uplink_id FROM uplink)
)
GROUP BY device_socket;
