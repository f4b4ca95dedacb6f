-- The run row of one host's Parquet export (parity export), decoded like list-runs.sql's rows. Columns added to runs
-- since the export was written are absent from its row, and read as not measured.
SELECT * REPLACE (plan::VARCHAR AS plan, topology::VARCHAR AS topology, thresholds::VARCHAR AS thresholds, stats::VARCHAR AS stats,
                  strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started_at)
FROM read_parquet($file);
