package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
)

const triggerColumns = "id, title, description, active, position, is_default, category_id, conditions, actions, created_at, updated_at"

func scanTrigger(row interface{ Scan(...any) error }) (*mergedesk.Trigger, error) {
	var t mergedesk.Trigger
	var desc, cat sql.NullString
	var conds, acts string
	var c, u int64
	if err := row.Scan(&t.ID, &t.Title, &desc, &t.Active, &t.Position, &t.Default, &cat, &conds, &acts, &c, &u); err != nil {
		return nil, err
	}
	t.Description, t.CreatedAt, t.UpdatedAt = strPtr(desc), fromUnix(c), fromUnix(u)
	if cat.Valid {
		t.CategoryID = json.RawMessage(cat.String)
	}
	if err := json.Unmarshal([]byte(conds), &t.Conditions); err != nil {
		return nil, fmt.Errorf("decode conditions of trigger %d: %w", t.ID, err)
	}
	if err := json.Unmarshal([]byte(acts), &t.Actions); err != nil {
		return nil, fmt.Errorf("decode actions of trigger %d: %w", t.ID, err)
	}
	t.Conditions = t.Conditions.Normal()
	if t.Actions == nil {
		t.Actions = []mergedesk.Action{}
	}
	return &t, nil
}

func loadTriggers(ctx context.Context, q querier, where string, args ...any) ([]*mergedesk.Trigger, error) {
	rows, err := q.query(ctx, "SELECT "+triggerColumns+" FROM triggers WHERE "+where+" ORDER BY position, id", args...)
	if err != nil {
		return nil, fmt.Errorf("load triggers: %w", err)
	}
	defer rows.Close()
	out := []*mergedesk.Trigger{}
	for rows.Next() {
		t, err := scanTrigger(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func loadTrigger(ctx context.Context, q querier, id int64) (*mergedesk.Trigger, error) {
	t, err := scanTrigger(q.queryRow(ctx, "SELECT "+triggerColumns+" FROM triggers WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, mergedesk.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("trigger %d: %w", id, err)
	}
	return t, nil
}

// Trigger returns one trigger. Errors: RecordNotFound.
func (db *DB) Trigger(ctx context.Context, id int64) (*mergedesk.Trigger, error) {
	return loadTrigger(ctx, db.r(), id)
}

// Triggers lists triggers in position order, only active or inactive ones when
// active is set. Trigger lists are short, so a page is cut from the whole
// ordered list; a cursor names the trigger id it follows or precedes.
func (db *DB) Triggers(ctx context.Context, active *bool, p mergedesk.Page) ([]*mergedesk.Trigger, mergedesk.PageInfo, error) {
	where, args := "1=1", []any{}
	if active != nil {
		where, args = "active = ?", []any{*active}
	}
	all, err := loadTriggers(ctx, db.r(), where, args...)
	if err != nil {
		return nil, mergedesk.PageInfo{}, err
	}
	if p.Size <= 0 || p.Size > 100 {
		p.Size = 100
	}
	var info mergedesk.PageInfo
	if !p.Cursor {
		info.Total = len(all)
		start := min(p.Offset, len(all))
		end := min(start+p.Size, len(all))
		info.HasMore, info.HasPrev = end < len(all), start > 0
		return all[start:end], info, nil
	}
	index := func(id int64) int {
		return slices.IndexFunc(all, func(t *mergedesk.Trigger) bool { return t.ID == id })
	}
	if p.Before > 0 {
		end := max(index(p.Before), 0)
		start := max(end-p.Size, 0)
		info.HasMore, info.HasPrev = true, start > 0
		return all[start:end], info, nil
	}
	start := 0
	if p.After > 0 {
		if i := index(p.After); i >= 0 {
			start = i + 1
		}
	}
	end := min(start+p.Size, len(all))
	info.HasMore, info.HasPrev = end < len(all), p.After > 0
	return all[start:end], info, nil
}

// CreateTrigger stores a new trigger; position defaults to last. The conditions
// and actions are stored as given: callers validate them (internal/trigger).
// Errors: RecordInvalid (title, conditions, actions BlankValue).
func (db *DB) CreateTrigger(ctx context.Context, w mergedesk.TriggerWrite) (*mergedesk.Trigger, error) {
	switch {
	case w.Title == nil || strings.TrimSpace(*w.Title) == "":
		return nil, mergedesk.Invalid("title", mergedesk.CodeBlank, "Title: cannot be blank")
	case w.Conditions == nil:
		return nil, mergedesk.Invalid("conditions", mergedesk.CodeBlank, "Conditions: cannot be blank")
	case w.Actions == nil || len(*w.Actions) == 0:
		return nil, mergedesk.Invalid("actions", mergedesk.CodeBlank, "Actions: cannot be blank")
	}
	var out *mergedesk.Trigger
	err := db.Update(ctx, func(tx *Tx) error {
		pos := int64(0)
		if w.Position != nil {
			pos = *w.Position
		} else {
			var last sql.NullInt64
			if err := tx.queryRow(ctx, "SELECT MAX(position) FROM triggers").Scan(&last); err != nil {
				return fmt.Errorf("last trigger position: %w", err)
			}
			pos = last.Int64 + 1
		}
		active := w.Active == nil || *w.Active
		now := unix(tx.now)
		id, err := tx.insert(ctx, `INSERT INTO triggers (title, description, active, position, category_id, conditions, actions,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			strings.TrimSpace(*w.Title), descValue(w.Description), active, pos, rawValue(w.CategoryID),
			encodeJSON(w.Conditions.Normal()), encodeJSON(*w.Actions), now, now)
		if err != nil {
			return fmt.Errorf("insert trigger: %w", err)
		}
		tx.invalidateTriggers()
		out, err = loadTrigger(ctx, tx, id)
		return err
	})
	return out, err
}

// UpdateTrigger applies w to a trigger. Errors: RecordNotFound, RecordInvalid
// (title or actions BlankValue).
func (db *DB) UpdateTrigger(ctx context.Context, id int64, w mergedesk.TriggerWrite) (*mergedesk.Trigger, error) {
	if w.Title != nil && strings.TrimSpace(*w.Title) == "" {
		return nil, mergedesk.Invalid("title", mergedesk.CodeBlank, "Title: cannot be blank")
	}
	if w.Actions != nil && len(*w.Actions) == 0 {
		return nil, mergedesk.Invalid("actions", mergedesk.CodeBlank, "Actions: cannot be blank")
	}
	var out *mergedesk.Trigger
	err := db.Update(ctx, func(tx *Tx) error {
		if _, err := loadTrigger(ctx, tx, id); err != nil {
			return err
		}
		set := []string{"updated_at = ?"}
		args := []any{unix(tx.now)}
		col := func(c string, v any) {
			set = append(set, c+" = ?")
			args = append(args, v)
		}
		if w.Title != nil {
			col("title", strings.TrimSpace(*w.Title))
		}
		if w.Description != nil {
			col("description", descValue(w.Description))
		}
		if w.Active != nil {
			col("active", *w.Active)
		}
		if w.Position != nil {
			col("position", *w.Position)
		}
		if w.CategoryID != nil {
			col("category_id", rawValue(w.CategoryID))
		}
		if w.Conditions != nil {
			col("conditions", encodeJSON(w.Conditions.Normal()))
		}
		if w.Actions != nil {
			col("actions", encodeJSON(*w.Actions))
		}
		if _, err := tx.exec(ctx, "UPDATE triggers SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, id)...); err != nil {
			return fmt.Errorf("update trigger %d: %w", id, err)
		}
		tx.invalidateTriggers()
		var err error
		out, err = loadTrigger(ctx, tx, id)
		return err
	})
	return out, err
}

// DeleteTrigger deletes a trigger. Errors: RecordNotFound.
func (db *DB) DeleteTrigger(ctx context.Context, id int64) error {
	return db.Update(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, "DELETE FROM triggers WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("delete trigger %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return mergedesk.NotFound()
		}
		tx.invalidateTriggers()
		return nil
	})
}

func descValue(d **string) any {
	if d == nil || *d == nil || strings.TrimSpace(**d) == "" {
		return nil
	}
	return **d
}

func rawValue(r *json.RawMessage) any {
	if r == nil || len(*r) == 0 || string(*r) == "null" {
		return nil
	}
	return string(*r)
}

// triggerCacheTTL bounds how long another process's trigger edits go unseen;
// edits made through this DB invalidate the cache at once.
const triggerCacheTTL = 10 * time.Second

// triggerCache holds the active triggers of one DB so that ticket writes do not
// query them each time (inbound channels write thousands of tickets a second).
type triggerCache struct {
	mu       sync.Mutex
	gen      uint64
	list     []*mergedesk.Trigger // nil: not loaded
	loadedAt time.Time
}

// triggerCaches maps *DB to its *triggerCache. It lives here rather than in DB
// so the cache stays with the trigger code.
var triggerCaches sync.Map

func (db *DB) triggerCache() *triggerCache {
	if c, ok := triggerCaches.Load(db); ok {
		return c.(*triggerCache)
	}
	c, _ := triggerCaches.LoadOrStore(db, &triggerCache{})
	return c.(*triggerCache)
}

// invalidateTriggers drops the cached active triggers once tx commits.
func (tx *Tx) invalidateTriggers() {
	c := tx.db.triggerCache()
	tx.After(func() {
		c.mu.Lock()
		c.gen++
		c.list = nil
		c.mu.Unlock()
	})
}

// ActiveTriggers returns the active triggers in position order, from the cache
// when it is fresh. The triggers are shared: callers must not modify them.
func (tx *Tx) ActiveTriggers(ctx context.Context) ([]*mergedesk.Trigger, error) {
	c := tx.db.triggerCache()
	c.mu.Lock()
	if c.list != nil && time.Since(c.loadedAt) < triggerCacheTTL {
		list := c.list
		c.mu.Unlock()
		return list, nil
	}
	gen := c.gen
	c.mu.Unlock()
	list, err := loadTriggers(ctx, tx, "active = ?", true)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	// A trigger write committed while we read: our list may be stale, so do not
	// keep it.
	if c.gen == gen {
		c.list, c.loadedAt = list, time.Now()
	}
	c.mu.Unlock()
	return list, nil
}

// User loads a user (live identities and memberships included) inside the
// transaction. Errors: RecordNotFound.
func (tx *Tx) User(ctx context.Context, id int64) (*mergedesk.User, error) {
	return loadUser(ctx, tx, id)
}

// Group loads a group, deleted or not, inside the transaction. Errors:
// RecordNotFound.
func (tx *Tx) Group(ctx context.Context, id int64) (*mergedesk.Group, error) {
	return loadGroup(ctx, tx, id)
}
