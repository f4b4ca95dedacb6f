-- What a run replays, filled in once its replay is prepared; fields not given keep their value.
UPDATE runs SET capture_id = $capture_id, protocol = $protocol, relay = $relay,
  plan = coalesce($plan::JSON, plan), topology = coalesce($topology::JSON, topology), thresholds = coalesce($thresholds::JSON, thresholds)
WHERE run_id = $id;
