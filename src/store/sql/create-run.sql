-- A new run, owned by the process that creates it; its id comes back.
INSERT INTO runs (name, kind, capture_id, protocol, relay, plan, topology, thresholds, status, started_ns, owner_pid, owner_host, wall_offset_ns)
VALUES ($name, $kind, $capture_id, $protocol, $relay, $plan, $topology, $thresholds, 'running', $started_ns, $owner_pid, $owner_host, $wall_offset_ns)
RETURNING run_id;
