-- +goose Up
-- The merge record (rule M30): never edited or deleted.
CREATE TABLE user_merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id BIGINT NOT NULL,
    source_id BIGINT NOT NULL REFERENCES users (id),
    target_id BIGINT NOT NULL REFERENCES users (id),
    tickets_moved BIGINT NOT NULL,
    ccs_moved BIGINT NOT NULL,
    identities_moved TEXT NOT NULL,
    fields TEXT NOT NULL,
    source_snapshot TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX user_merges_source ON user_merges (source_id);
CREATE INDEX user_merges_target ON user_merges (target_id);

-- A merge writes one audit per touched ticket with INSERT ... SELECT and then
-- finds them again by this column to attach their events.
ALTER TABLE audits ADD COLUMN user_merge_id BIGINT;
CREATE INDEX audits_user_merge ON audits (user_merge_id);

-- +goose Down
SELECT 1;
