-- A run's end: its status, its counts, and (when the work measured it) its clock's origin.
UPDATE runs SET status = $status, ended_ns = $ended_ns, ended_at = current_timestamp,
stats = coalesce($stats::JSON, stats), started_ns = coalesce($started_ns, started_ns) WHERE run_id = $id;
