package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk/internal/store"
)

// mergePair is one fixture: source and target, and the tag every name, e-mail
// and seeded ticket of the fixture carries.
type mergePair struct {
	s, t int64
	tag  string
	// also are further strings unique to the fixture (a phone number, say),
	// written as TAG like the tag.
	also []string
}

// sameRows checks that merge a (MergeUsers) and merge b (the floor) wrote the
// same rows on their identical fixtures.
func sameRows(ctx context.Context, raw *sql.DB, dialect string, aID int64, a mergePair, bID int64, b mergePair) error {
	fa, err := footprint(ctx, raw, dialect, aID, a)
	if err != nil {
		return err
	}
	fb, err := footprint(ctx, raw, dialect, bID, b)
	if err != nil {
		return err
	}
	for i := range max(len(fa), len(fb)) {
		if i >= len(fa) || i >= len(fb) || fa[i] != fb[i] {
			get := func(f []string) string {
				if i < len(f) {
					return f[i]
				}
				return "(none)"
			}
			return fmt.Errorf("the floor wrote different rows than MergeUsers (%d vs %d rows):\n  MergeUsers: %s\n  floor:      %s",
				len(fa), len(fb), get(fa), get(fb))
		}
	}
	return nil
}

// footprintTables are the rows a merge writes, table by table: every column
// of every row of the tables it touches that belongs to the pair or the merge.
// ? is the source, the target and the merge record's id, in that order.
var footprintTables = []struct{ table, where string }{
	{"user_merges", "id = ?3"},
	{"users", "id IN (?1, ?2)"},
	{"identities", "user_id IN (?1, ?2)"},
	{"memberships", "user_id IN (?1, ?2)"},
	{"api_tokens", "user_id IN (?1, ?2)"},
	{"tickets", "requester_id IN (?1, ?2) OR id IN (SELECT ticket_id FROM ticket_ccs WHERE user_id IN (?1, ?2))"},
	{"ticket_ccs", "ticket_id IN (SELECT id FROM tickets WHERE requester_id IN (?1, ?2)) OR user_id IN (?1, ?2)"},
	{"audits", "user_merge_id = ?3"},
	{"events", "audit_id IN (SELECT id FROM audits WHERE user_merge_id = ?3)"},
}

var rfc3339 = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`)

// footprint lists, sorted, every row footprintTables selects, written so that
// two fixtures compare equal: ids become names (S, T, M, the ticket's seeded
// subject and batch, the identity's rank), the fixture's tag becomes TAG,
// times become NOW (the merge's) or BEFORE, and JSON is compared parsed.
func footprint(ctx context.Context, raw *sql.DB, dialect string, mergeID int64, p mergePair) ([]string, error) {
	q := func(query string) string {
		query = strings.NewReplacer("?1", strconv.FormatInt(p.s, 10), "?2", strconv.FormatInt(p.t, 10), "?3", strconv.FormatInt(mergeID, 10)).Replace(query)
		return store.Rebind(dialect, query)
	}
	var now int64
	if err := raw.QueryRowContext(ctx, q("SELECT created_at FROM user_merges WHERE id = ?3")).Scan(&now); err != nil {
		return nil, fmt.Errorf("footprint: merge record: %w", err)
	}
	// Names for ids: users, tickets, audits, identities.
	names := map[string]map[int64]string{"user": {p.s: "S", p.t: "T"}, "ticket": {}, "audit": {}, "identity": {}, "org": {}, "merge": {mergeID: "M"}}
	tag := func(s string) string {
		for _, a := range append([]string{p.tag}, p.also...) {
			s = strings.ReplaceAll(s, a, "TAG")
		}
		return s
	}
	collect := func(kind, query string, label func(id int64, a, b string) string) error {
		rows, err := raw.QueryContext(ctx, q(query))
		if err != nil {
			return fmt.Errorf("footprint: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var a, b sql.NullString
			if err := rows.Scan(&id, &a, &b); err != nil {
				return err
			}
			names[kind][id] = label(id, a.String, b.String)
		}
		return rows.Err()
	}
	ticketSet := "SELECT id FROM tickets WHERE " + footprintTables[5].where
	if err := collect("ticket", "SELECT id, external_id, subject FROM tickets WHERE id IN ("+ticketSet+")",
		func(_ int64, ext, subj string) string { return "ticket(" + tag(ext) + "/" + subj + ")" }); err != nil {
		return nil, err
	}
	if err := collect("audit", "SELECT a.id, t.external_id, t.subject FROM audits a JOIN tickets t ON t.id = a.ticket_id WHERE a.user_merge_id = ?3",
		func(_ int64, ext, subj string) string { return "audit(" + tag(ext) + "/" + subj + ")" }); err != nil {
		return nil, err
	}
	if err := collect("org", "SELECT id, name, '' FROM organizations WHERE id IN (SELECT organization_id FROM memberships WHERE user_id IN (?1, ?2))",
		func(_ int64, name, _ string) string { return "org(" + tag(name) + ")" }); err != nil {
		return nil, err
	}
	rank := 0
	if err := collect("identity", "SELECT id, type, '' FROM identities WHERE user_id IN (?1, ?2) ORDER BY id",
		func(_ int64, typ, _ string) string { rank++; return "identity" + strconv.Itoa(rank) }); err != nil {
		return nil, err
	}
	// idName names an id by the column (or JSON key) holding it; ids of the
	// actor and the CC users are the same in both fixtures and stay numbers.
	idName := func(column string, id int64) string {
		kinds := map[string][]string{"ticket_id": {"ticket"}, "audit_id": {"audit"}, "user_merge_id": {"merge"},
			"organization_id": {"org"}, "organization_ids": {"org"}, "identity_id": {"identity"}, "id": {"user"}}[column]
		if kinds == nil {
			kinds = []string{"user"}
		}
		for _, k := range kinds {
			if n, ok := names[k][id]; ok {
				return n
			}
		}
		return strconv.FormatInt(id, 10)
	}
	// normJSON rewrites a JSON value; key is the key (or, at the top, the
	// column) holding it, identities whether it lies within a list of
	// identities, whose "id" is an identity's, not a user's.
	var normJSON func(key string, identities bool, v any) any
	normJSON = func(key string, identities bool, v any) any {
		switch x := v.(type) {
		case map[string]any:
			org := x["field"] == "organization_id" || x["field"] == "organizations"
			for k, e := range x {
				switch {
				case org && (k == "source_value" || k == "target_value"):
					x[k] = normJSON("organization_ids", identities, e)
				default:
					x[k] = normJSON(k, identities, e)
				}
			}
		case []any:
			identities = identities || key == "identities" || key == "identities_moved"
			for i, e := range x {
				x[i] = normJSON(key, identities, e)
			}
		case float64:
			switch {
			case key == "id" && identities:
				return idName("identity_id", int64(x))
			case key == "id", strings.HasSuffix(key, "_id"), key == "organization_ids":
				return idName(key, int64(x))
			}
		case string:
			if rfc3339.MatchString(x) {
				return "TIME"
			}
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				if name, ok := names["user"][n]; ok {
					return name
				}
			}
			return tag(x)
		}
		return v
	}
	var out []string
	for _, ft := range footprintTables {
		rows, err := raw.QueryContext(ctx, q("SELECT * FROM "+ft.table+" WHERE "+ft.where))
		if err != nil {
			return nil, fmt.Errorf("footprint %s: %w", ft.table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			var row []string
			for i, c := range cols {
				row = append(row, c+"="+normValue(c, vals[i], now, idName, normJSON, tag))
			}
			// The row's own id, where it has a name.
			self := map[string]string{"users": "user", "tickets": "ticket", "audits": "audit", "identities": "identity", "user_merges": "merge"}[ft.table]
			for i, c := range cols {
				if c == "id" && self != "" {
					if n, ok := names[self][asInt(vals[i])]; ok {
						row[i] = "id=" + n
					} else {
						row[i] = "id=?"
					}
				} else if c == "id" {
					row[i] = "id=?"
				}
			}
			out = append(out, ft.table+" "+strings.Join(row, " "))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float64:
		return int64(x)
	}
	return -1
}

// normValue writes one column's value for footprint.
func normValue(col string, v any, now int64, idName func(string, int64) string, normJSON func(string, bool, any) any, tag func(string) string) string {
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch x := v.(type) {
	case nil:
		return "NULL"
	case bool:
		return strconv.FormatBool(x)
	case string:
		if t := strings.TrimSpace(x); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			var j any
			if err := json.Unmarshal([]byte(t), &j); err == nil {
				b, _ := json.Marshal(normJSON(col, false, j))
				return string(b)
			}
		}
		return strconv.Quote(tag(x))
	}
	n := asInt(v)
	switch {
	case strings.HasSuffix(col, "_at"):
		if n == now {
			return "NOW"
		}
		return "BEFORE"
	case strings.HasSuffix(col, "_id"):
		return idName(col, n)
	case col == "archived" || col == "deleted" || col == "active" || strings.HasPrefix(col, "is_") || col == "verified":
		return strconv.FormatBool(n != 0) // SQLite's booleans are integers
	}
	return strconv.FormatInt(n, 10)
}
