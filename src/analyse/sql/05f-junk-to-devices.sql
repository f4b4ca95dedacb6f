-- reads: observations
-- writes: junk_to_devices
-- Datagrams that reached devices (leg relay>device) that are no answer at all (bytes that do not parse as one) and
-- that no backend sent (leg X>relay, by payload hash): made up or mangled on the way, by the relay or the network
-- between, and never counted among the ACKs; a backend's own unreadable answer that the relay passed on is not.
-- Per route the relay sent them on. Both sides are read filtered to what does not parse: few rows in a healthy run.
CREATE OR REPLACE TEMP TABLE junk_to_devices AS
WITH got AS (
  SELECT route_port, payload_hash
  FROM observations
  WHERE run_id = $run_id AND leg = 'relay>device' AND kind = 'unparsed'
),
answered AS (
  SELECT DISTINCT payload_hash
  FROM observations
  WHERE run_id = $run_id AND leg LIKE '%>relay' AND leg <> 'device>relay' AND kind = 'unparsed'
)
SELECT route_port, count(*) AS junk
FROM got ANTI JOIN answered USING (payload_hash)
GROUP BY ALL;
