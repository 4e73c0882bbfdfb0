package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mergedesk/mergedesk"
)

const groupColumns = "id, name, description, is_default, deleted, created_at, updated_at"

func scanGroup(row interface{ Scan(...any) error }) (*mergedesk.Group, error) {
	var g mergedesk.Group
	var desc sql.NullString
	var c, u int64
	if err := row.Scan(&g.ID, &g.Name, &desc, &g.Default, &g.Deleted, &c, &u); err != nil {
		return nil, err
	}
	g.Description, g.CreatedAt, g.UpdatedAt = strPtr(desc), fromUnix(c), fromUnix(u)
	return &g, nil
}

// Group returns one group, deleted or not. Errors: RecordNotFound.
func (db *DB) Group(ctx context.Context, id int64) (*mergedesk.Group, error) {
	return loadGroup(ctx, db.r(), id)
}

func loadGroup(ctx context.Context, q querier, id int64) (*mergedesk.Group, error) {
	g, err := scanGroup(q.queryRow(ctx, "SELECT "+groupColumns+" FROM agent_groups WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("group %d: %w", id, err)
	}
	return g, nil
}

// GroupsByIDs returns the groups with these ids in this order, deleted ones
// included; unknown ids are skipped.
func (db *DB) GroupsByIDs(ctx context.Context, ids []int64) ([]*mergedesk.Group, error) {
	return loadGroups(ctx, db.r(), ids)
}

func loadGroups(ctx context.Context, q querier, ids []int64) ([]*mergedesk.Group, error) {
	out := []*mergedesk.Group{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inArgs(ids)
	rows, err := q.query(ctx, "SELECT "+groupColumns+" FROM agent_groups WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, fmt.Errorf("load groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("scan group: %w", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return orderBy(ids, out, func(g *mergedesk.Group) int64 { return g.ID }), nil
}

// Groups lists the groups that are not deleted, in id order.
func (db *DB) Groups(ctx context.Context, p mergedesk.Page) ([]*mergedesk.Group, mergedesk.PageInfo, error) {
	ids, info, err := pageIDs(ctx, db.r(), "agent_groups", "deleted = FALSE", nil, p)
	if err != nil {
		return nil, info, fmt.Errorf("list groups: %w", err)
	}
	gs, err := loadGroups(ctx, db.r(), ids)
	return gs, info, err
}

// CreateGroup creates a group (docs/api.md §5). Errors: RecordInvalid (name
// BlankValue, TooLong or DuplicateValue among groups that are not deleted).
func (db *DB) CreateGroup(ctx context.Context, w mergedesk.GroupWrite) (*mergedesk.Group, error) {
	var out *mergedesk.Group
	err := db.Update(ctx, func(tx *Tx) error {
		if w.Name == nil || strings.TrimSpace(*w.Name) == "" {
			return mergedesk.Invalid("name", mergedesk.CodeBlank, "Name: cannot be blank")
		}
		now := unix(tx.now)
		id, err := tx.insert(ctx, "INSERT INTO agent_groups (name, name_norm, created_at, updated_at) VALUES (?, ?, ?, ?)",
			strings.TrimSpace(*w.Name), NameNorm(*w.Name), now, now)
		if isUniqueViolation(err) {
			return duplicateGroupName(*w.Name)
		}
		if err != nil {
			return fmt.Errorf("insert group: %w", err)
		}
		if err := updateGroup(ctx, tx, id, w); err != nil {
			return err
		}
		out, err = loadGroup(ctx, tx, id)
		return err
	})
	return out, err
}

// UpdateGroup applies w to a group that is not deleted. Errors: RecordNotFound,
// and those of CreateGroup.
func (db *DB) UpdateGroup(ctx context.Context, id int64, w mergedesk.GroupWrite) (*mergedesk.Group, error) {
	var out *mergedesk.Group
	err := db.Update(ctx, func(tx *Tx) error {
		if err := updateGroup(ctx, tx, id, w); err != nil {
			return err
		}
		var err error
		out, err = loadGroup(ctx, tx, id)
		return err
	})
	return out, err
}

func duplicateGroupName(name string) error {
	return mergedesk.Invalid("name", mergedesk.CodeDuplicate, "Name: %s has already been taken", strings.TrimSpace(name))
}

func updateGroup(ctx context.Context, tx *Tx, id int64, w mergedesk.GroupWrite) error {
	g, err := loadGroup(ctx, tx, id)
	if err != nil {
		return err
	}
	if g.Deleted {
		return mergedesk.NotFound()
	}
	set := []string{"updated_at = ?"}
	args := []any{unix(tx.now)}
	col := func(c string, v any) {
		set = append(set, c+" = ?")
		args = append(args, v)
	}
	if w.Name != nil && strings.TrimSpace(*w.Name) != "" {
		name, err := mergedesk.CheckName(*w.Name)
		if err != nil {
			return err
		}
		col("name", name)
		col("name_norm", NameNorm(name))
	}
	if w.Description != nil {
		col("description", nullable(*w.Description))
	}
	if w.Default != nil {
		col("is_default", *w.Default)
		if *w.Default {
			if _, err := tx.exec(ctx, "UPDATE agent_groups SET is_default = FALSE, updated_at = ? WHERE is_default = TRUE AND id <> ?",
				unix(tx.now), id); err != nil {
				return fmt.Errorf("update group %d: %w", id, err)
			}
		}
	}
	_, err = tx.exec(ctx, "UPDATE agent_groups SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...)
	if isUniqueViolation(err) && w.Name != nil {
		return duplicateGroupName(*w.Name)
	}
	if err != nil {
		return fmt.Errorf("update group %d: %w", id, err)
	}
	return nil
}

// DeleteGroup soft-deletes a group (docs/api.md §5): it leaves lists, and
// organizations that route to it get no group. Tickets keep theirs. Errors:
// RecordNotFound (also for a group already deleted).
func (db *DB) DeleteGroup(ctx context.Context, id int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		g, err := loadGroup(ctx, tx, id)
		if err != nil {
			return err
		}
		if g.Deleted {
			return mergedesk.NotFound()
		}
		now := unix(tx.now)
		if _, err := tx.exec(ctx, "UPDATE agent_groups SET deleted = TRUE, is_default = FALSE, updated_at = ? WHERE id = ?", now, id); err != nil {
			return fmt.Errorf("delete group %d: %w", id, err)
		}
		if _, err := tx.exec(ctx, "UPDATE organizations SET group_id = NULL, updated_at = ? WHERE group_id = ?", now, id); err != nil {
			return fmt.Errorf("delete group %d: %w", id, err)
		}
		return nil
	})
}

// liveGroup checks that a reference names a group that is not deleted.
func liveGroup(ctx context.Context, q querier, id int64) error {
	var n int
	if err := q.queryRow(ctx, "SELECT COUNT(*) FROM agent_groups WHERE id = ? AND deleted = FALSE", id).Scan(&n); err != nil {
		return fmt.Errorf("group %d: %w", id, err)
	}
	if n == 0 {
		return mergedesk.Invalid("group_id", mergedesk.CodeInvalid, "Group: %d does not exist", id)
	}
	return nil
}
