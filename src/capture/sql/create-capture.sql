-- A capture being written: unfinished and owned until its writer finishes it.
INSERT INTO captures (name, source, route_ports, finished, owner_pid, owner_host)
VALUES ($name, $source, $route_ports::INTEGER[], false, $pid, $host) RETURNING capture_id;
