package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// list describes a paginated list for paginate:
//
//	SELECT cols FROM from WHERE where ORDER BY order..., key
//
// key is a unique column and comes last in the order, so the order is total and
// a row's key is enough to find its place: cursors are keys.
type list struct {
	cols  string // selected columns; key when empty
	from  string // a table, or a table and its joins
	where string // "" for every row
	args  []any  // where's arguments
	key   string // the unique column; "id" when empty
	// order holds the expressions over from's columns sorted before key, in
	// the same direction; none means key alone.
	order []string
	// lostCursor is what a cursor whose row is gone (or never was) continues
	// from: the key order around it when true, an empty page when false.
	lostCursor bool
}

// pageRequest is one page of a list, whatever the type of its key.
type pageRequest[K int64 | string] struct {
	size   int  // clamped to 1..100
	cursor bool // keyset paging; offset paging otherwise
	offset int
	// after or before, when not zero, is the key of the row the page follows
	// or precedes in the list's order; before wins.
	after, before K
	desc          bool // the list's order is descending
}

// idPage is p for lists keyed by id. A request that gives both an after and a
// before cursor continues from the greater one, backwards.
func idPage(p mergedesk.Page) pageRequest[int64] {
	r := pageRequest[int64]{size: p.Size, cursor: p.Cursor, offset: p.Offset, after: p.After, desc: p.Desc}
	if p.Before > 0 {
		r.before = max(p.After, p.Before)
	}
	return r
}

// paginate reads one page of l: by offset (with the total count), or by keyset
// (a page of size+1 rows tells whether there is more). A keyset page reading
// backwards (before) runs the order reversed and returns its rows in the list's
// own order. scan reads one row of l.cols.
func paginate[K int64 | string, T any](ctx context.Context, q querier, l list, p pageRequest[K], scan func(*sql.Rows) (T, error)) ([]T, mergedesk.PageInfo, error) {
	if p.size <= 0 || p.size > 100 {
		p.size = 100
	}
	if l.key == "" {
		l.key = "id"
	}
	if l.cols == "" {
		l.cols = l.key
	}
	if l.where == "" {
		l.where = "1=1"
	}
	var info mergedesk.PageInfo
	from := " FROM " + l.from + " WHERE "
	if !p.cursor {
		if err := q.queryRow(ctx, "SELECT COUNT(*)"+from+l.where, l.args...).Scan(&info.Total); err != nil {
			return nil, info, err
		}
		rows, err := q.query(ctx, "SELECT "+l.cols+from+l.where+" ORDER BY "+l.orderBy(p.desc)+" LIMIT ? OFFSET ?",
			append(slices.Clip(l.args), p.size, p.offset)...)
		out, err := scanRows(rows, err, scan)
		info.HasMore = p.offset+len(out) < info.Total
		info.HasPrev = p.offset > 0
		return out, info, err
	}

	var zero K
	forward := p.before == zero
	c := p.after
	if !forward {
		c = p.before
	}
	// Forward reads the list's own order; backward reads it reversed.
	desc := p.desc == forward
	where, args := l.where, slices.Clip(l.args)
	if c > zero {
		cond, cargs, ok, err := l.seek(ctx, q, c, desc)
		if err != nil {
			return nil, info, err
		}
		if !ok {
			// What reading past a row that is not there found before
			// cursors were looked up: nothing.
			if forward {
				info.HasPrev = p.after > zero
			} else {
				info.HasMore = true
			}
			return nil, info, nil
		}
		where, args = where+" AND "+cond, append(args, cargs...)
	}
	rows, err := q.query(ctx, "SELECT "+l.cols+from+where+" ORDER BY "+l.orderBy(desc)+" LIMIT ?", append(args, p.size+1)...)
	out, err := scanRows(rows, err, scan)
	if err != nil {
		return nil, info, err
	}
	more := len(out) > p.size
	if more {
		out = out[:p.size]
	}
	if forward {
		info.HasMore, info.HasPrev = more, p.after > zero
	} else {
		slices.Reverse(out)
		info.HasMore, info.HasPrev = true, more
	}
	return out, info, nil
}

// orderBy is l's ORDER BY list, every term ascending or every term descending.
func (l list) orderBy(desc bool) string {
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	var b strings.Builder
	for _, e := range l.order {
		b.WriteString(e + dir + ", ")
	}
	return b.String() + l.key + dir
}

// seek returns the condition that keeps the rows past cursor c in the order
// being read (descending when desc), or ok false when c's row is gone and l
// says such a cursor reads nothing.
func (l list) seek(ctx context.Context, q querier, c any, desc bool) (cond string, args []any, ok bool, err error) {
	cmp := " > "
	if desc {
		cmp = " < "
	}
	if len(l.order) == 0 {
		return l.key + cmp + "?", []any{c}, true, nil
	}
	// The cursor row's place: its values of the order expressions.
	vals := make([]any, len(l.order))
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err = q.queryRow(ctx, "SELECT "+strings.Join(l.order, ", ")+" FROM "+l.from+" WHERE "+l.key+" = ?", c).Scan(ptrs...)
	switch {
	case errors.Is(err, sql.ErrNoRows) && l.lostCursor:
		return l.key + cmp + "?", []any{c}, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return "", nil, false, nil
	case err != nil:
		return "", nil, false, err
	}
	row := strings.Join(l.order, ", ") + ", " + l.key
	return "(" + row + ")" + cmp + "(" + strings.Repeat("?, ", len(vals)) + "?)", append(vals, c), true, nil
}

// scanRows reads every row with scan and closes rows; err is the query's.
func scanRows[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanID reads a row of one id.
func scanID(rows *sql.Rows) (int64, error) {
	var id int64
	err := rows.Scan(&id)
	return id, err
}

// pageIDs reads one page of the ids of from's rows matching where, in id order
// (descending when p.Desc).
func pageIDs(ctx context.Context, q querier, from, where string, args []any, p mergedesk.Page) ([]int64, mergedesk.PageInfo, error) {
	return paginate(ctx, q, list{from: from, where: where, args: args}, idPage(p), scanID)
}
