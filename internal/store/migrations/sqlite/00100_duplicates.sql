-- +goose Up
-- Duplicate detection (docs/duplicates-runtime.md).

-- A suggested pair, smaller user id first (rule D1). Dismissed rows are kept
-- for good so that the pair is never suggested again (D7); merged rows are the
-- audit trail of D13. gen is the full scan generation that last wrote an open
-- row: a finished scan deletes the open rows of older generations (D10).
CREATE TABLE duplicate_suggestions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_a BIGINT NOT NULL,
    user_b BIGINT NOT NULL,
    score REAL NOT NULL,
    reasons TEXT NOT NULL,
    group_id BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'open',
    suggested_target_id BIGINT NOT NULL,
    dismissed_by_id BIGINT,
    dismissed_at BIGINT,
    gen BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX duplicate_suggestions_pair ON duplicate_suggestions (user_a, user_b);
CREATE INDEX duplicate_suggestions_user_b ON duplicate_suggestions (user_b);
CREATE INDEX duplicate_suggestions_score ON duplicate_suggestions (status, score, id);
CREATE INDEX duplicate_suggestions_group ON duplicate_suggestions (group_id);

-- The blocking keys of every active end user: two users are compared when
-- they share one. Keys are uint64 hashes stored as their int64 bits.
CREATE TABLE duplicate_keys (
    key_hash BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (key_hash, user_id)
);
CREATE INDEX duplicate_keys_user ON duplicate_keys (user_id);

-- Users whose suggestions must be recomputed (rule D8), written in the
-- transaction of the change.
CREATE TABLE duplicate_queue (
    user_id BIGINT PRIMARY KEY,
    queued_at BIGINT NOT NULL
);

-- One row: the model the last full scan estimated, the current scan generation
-- and where a running scan has got to (resume after a restart).
CREATE TABLE duplicate_state (
    id BIGINT PRIMARY KEY,
    model TEXT,
    gen BIGINT NOT NULL DEFAULT 0,
    scan_job_id TEXT,
    scan_cursor BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL DEFAULT 0
);
INSERT INTO duplicate_state (id, gen) VALUES (1, 0);

-- Rule D13: a merge of a suggested pair records the suggestion.
ALTER TABLE user_merges ADD COLUMN duplicate_suggestion_id BIGINT;
ALTER TABLE user_merges ADD COLUMN duplicate_score REAL;

-- +goose Down
SELECT 1;
