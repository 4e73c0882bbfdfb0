-- +goose Up
-- At most one live (queued or working) job of a singleton kind, such as the
-- duplicate scan, whoever starts it and on whichever server: the index, not a
-- check-then-insert, decides between concurrent starts (CreateSingletonJob).
ALTER TABLE jobs ADD COLUMN singleton BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX jobs_singleton_live ON jobs (job_type) WHERE singleton AND status IN ('queued', 'working');

-- +goose Down
SELECT 1;
