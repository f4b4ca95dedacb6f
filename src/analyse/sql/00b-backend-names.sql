-- reads: -
-- writes: packet_parity_names
-- The backend's number in packet_parity_rows and the steps' tables (backend_legs): its place among the run's backends.
-- Run once per backend ($backend, $backend_no).
INSERT INTO packet_parity_names VALUES ($run_id, 'backend', $backend_no, $backend);
