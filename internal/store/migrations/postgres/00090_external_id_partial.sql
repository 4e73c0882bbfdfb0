-- +goose Up
-- Most users have no external id; indexing their NULLs cost every user import
-- an index insert for nothing. Lookups (external_id_norm = ?) imply NOT NULL,
-- so both databases still use the index, and uniqueness is unchanged.
DROP INDEX users_external_id;
CREATE UNIQUE INDEX users_external_id ON users (external_id_norm) WHERE external_id_norm IS NOT NULL;

-- +goose Down
SELECT 1;
