-- reads: -
-- writes: ws_steps
-- The windows of a playbook's steps (filled by the analysis): the frames sent in each are judged by the configuration
-- the step set, once a grace period after it has passed (frames already queued when it changed go either way).
CREATE OR REPLACE TEMP TABLE ws_steps (step_no INTEGER, from_ns BIGINT, to_ns BIGINT);
