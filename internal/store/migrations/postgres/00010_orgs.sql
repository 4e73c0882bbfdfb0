-- +goose Up
-- A deleted group keeps its row (tickets still name it), so its name must not
-- block a new group of the same name: uniqueness holds among live groups only.
DROP INDEX agent_groups_name;
CREATE UNIQUE INDEX agent_groups_name ON agent_groups (name_norm) WHERE deleted = FALSE;

-- Deleting a group clears the organizations that route to it.
CREATE INDEX organizations_group ON organizations (group_id);

-- A user has at most one default membership (api.md §4.2), whatever writes it.
CREATE UNIQUE INDEX memberships_one_default ON memberships (user_id) WHERE is_default = TRUE;

-- +goose Down
SELECT 1;
