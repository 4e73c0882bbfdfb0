-- +goose Up
-- users_inactive (active, deactivated_at) made SQLite start user searches from
-- every active user; a partial index over the few inactive users serves
-- /deleted_users without misleading the planner.
DROP INDEX users_inactive;
CREATE INDEX users_inactive ON users (deactivated_at) WHERE active = FALSE;

-- +goose Down
SELECT 1;
