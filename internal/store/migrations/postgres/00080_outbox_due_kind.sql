-- +goose Up
-- The worker claims due messages of the kinds it can deliver (no mail without
-- a relay). Without kind in the index, every claim walked past all due
-- messages of other kinds: with mail queued and no relay, each wake-up scanned
-- the whole mail backlog.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (status, kind, next_attempt_at, id);

-- +goose Down
SELECT 1;
