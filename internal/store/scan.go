package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
)

func unix(t time.Time) int64 { return t.Unix() }

func fromUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func fromUnixPtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromUnix(n.Int64)
	return &t
}

func strPtr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	s := n.String
	return &s
}

func int64Ptr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// nullable returns nil for a nil pointer so the driver writes NULL.
func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// encodeTags stores tags as " a b " so that LIKE '% a %' finds one tag exactly.
func encodeTags(tags []string) string {
	tags = mergedesk.NormTags(tags)
	if len(tags) == 0 {
		return ""
	}
	return " " + strings.Join(tags, " ") + " "
}

func decodeTags(s string) []string {
	f := strings.Fields(s)
	if f == nil {
		return []string{}
	}
	return f
}

func encodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

func decodeObject(s string) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(s), &m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// inArgs returns "?,?,?" and the ids as args.
func inArgs(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?,", len(ids)), ","), args
}

func scanIDs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// pageIDs reads one page of ids from "SELECT id FROM from WHERE where", ordered
// by id (descending when p.Desc).
func pageIDs(ctx context.Context, q querier, from, where string, args []any, p mergedesk.Page) ([]int64, mergedesk.PageInfo, error) {
	if p.Size <= 0 || p.Size > 100 {
		p.Size = 100
	}
	if where == "" {
		where = "1=1"
	}
	var info mergedesk.PageInfo
	base := "SELECT id FROM " + from + " WHERE " + where
	if !p.Cursor {
		if err := q.queryRow(ctx, "SELECT COUNT(*) FROM "+from+" WHERE "+where, args...).Scan(&info.Total); err != nil {
			return nil, info, err
		}
		dir := "ASC"
		if p.Desc {
			dir = "DESC"
		}
		ids, err := scanIDs(q.query(ctx, base+" ORDER BY id "+dir+" LIMIT ? OFFSET ?", append(args, p.Size, p.Offset)...))
		info.HasMore = p.Offset+len(ids) < info.Total
		info.HasPrev = p.Offset > 0
		return ids, info, err
	}
	// Cursor: "forward" is the list's own order.
	forward := p.Before == 0
	gt, dir := ">", "ASC"
	if p.Desc == forward { // descending list read forward, or ascending list read backward
		gt, dir = "<", "DESC"
	}
	w := base
	a := args
	if c := max(p.After, p.Before); c > 0 {
		w += " AND id " + gt + " ?"
		a = append(a, c)
	}
	ids, err := scanIDs(q.query(ctx, w+" ORDER BY id "+dir+" LIMIT ?", append(a, p.Size+1)...))
	if err != nil {
		return nil, info, err
	}
	more := len(ids) > p.Size
	if more {
		ids = ids[:p.Size]
	}
	if forward {
		info.HasMore, info.HasPrev = more, p.After > 0
	} else {
		for i, j := 0, len(ids)-1; i < j; i, j = i+1, j-1 {
			ids[i], ids[j] = ids[j], ids[i]
		}
		info.HasMore, info.HasPrev = true, more
	}
	return ids, info, nil
}

// orderBy returns ids re-ordered like want (rows from IN queries come unordered).
func orderBy[T any](want []int64, items []T, id func(T) int64) []T {
	pos := make(map[int64]int, len(want))
	for i, id := range want {
		pos[id] = i
	}
	sort.SliceStable(items, func(i, j int) bool { return pos[id(items[i])] < pos[id(items[j])] })
	return items
}

type int64Null struct{ sql.NullInt64 }

func decodeInto(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}
