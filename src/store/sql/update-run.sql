-- What a run replays, filled in once its replay is prepared; fields not given keep their value (a later update of
-- the topology alone must not wipe the relay or the capture an earlier one set).
UPDATE runs SET capture_id = coalesce($capture_id, capture_id), protocol = $protocol, relay = coalesce($relay, relay),
  plan = coalesce($plan::JSON, plan), topology = coalesce($topology::JSON, topology), thresholds = coalesce($thresholds::JSON, thresholds)
WHERE run_id = $id;
