package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/merge"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// runWithRaw is storetest.Run that also hands the test a second, raw connection
// to the same database, for dumps and counts the store does not expose.
func runWithRaw(t *testing.T, fn func(t *testing.T, db *store.DB, raw *sql.DB)) {
	t.Helper()
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			db := storetest.MustOpen(t, dsn)
			fn(t, db, mustRaw(t, dsn))
		})
	}
}

func mustRaw(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	driver, src := "pgx", dsn
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		driver, src = "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	}
	raw, err := sql.Open(driver, src)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

// dumpDB returns every row of every table, tables by name and rows sorted, so
// two dumps are equal exactly when nothing was written in between.
func dumpDB(tb testing.TB, raw *sql.DB) string {
	tb.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	var dialect string
	if err := raw.QueryRow("SELECT sqlite_version()").Scan(&dialect); err != nil {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	tables := queryStrings(tb, raw, q)
	var b strings.Builder
	for _, tbl := range tables {
		rows, err := raw.Query("SELECT * FROM " + tbl)
		if err != nil {
			tb.Fatalf("dump %s: %v", tbl, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatal(err)
			}
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					vals[i] = string(bs)
				}
			}
			lines = append(lines, fmt.Sprintf("%v", vals))
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&b, "== %s (%d rows) %v\n%s\n", tbl, len(lines), cols, strings.Join(lines, "\n"))
	}
	return b.String()
}

func queryStrings(tb testing.TB, raw *sql.DB, q string, args ...any) []string {
	tb.Helper()
	rows, err := raw.Query(q, args...)
	if err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			tb.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// count runs a COUNT query on the raw connection; placeholders are written $n,
// which both databases accept.
func count(tb testing.TB, raw *sql.DB, q string, args ...any) int {
	tb.Helper()
	var n int
	if err := raw.QueryRow(q, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
	return n
}

// diffDumps names the first line where two dumps differ.
func diffDumps(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n-%s\n+%s", i+1, x, y)
		}
	}
	return ""
}

// TestMergeTooManyTickets proves the M4 boundary on real rows: 10,001 requested
// tickets refuse the merge (as source or target) and change nothing; deleting one
// brings it to 10,000, which merges, and the set-based apply gives every one of
// the 10,000 tickets exactly one audit with one requester Change (M9).
func TestMergeTooManyTickets(t *testing.T) {
	runWithRaw(t, func(t *testing.T, db *store.DB, raw *sql.DB) {
		ctx := context.Background()
		agent := mustTicketUser(t, db, mergedesk.NewUser{Name: "Agent", Role: mergedesk.RoleAgent, Email: "agent@example.com"})
		many := mustTicketUser(t, db, mergedesk.NewUser{Name: "Many", Email: "many@example.com"})
		dst := mustTicketUser(t, db, mergedesk.NewUser{Name: "Dst", Email: "dst@example.com"})
		// The target is CC'd on all of them: it must leave the CCs of the
		// non-archived half, and stay on the archived half (M10).
		if err := db.SeedTickets(ctx, many.ID, 10_000, []int64{dst.ID}, "m4"); err != nil {
			t.Fatal(err)
		}
		extra, _, err := db.CreateTicket(ctx, mergedesk.TicketInput{RequesterID: &many.ID, Comment: &mergedesk.CommentInput{Body: "one more"}},
			ticketAPIWriter(agent.ID))
		if err != nil {
			t.Fatal(err)
		}
		before := dumpDB(t, raw)
		for _, pair := range [][2]int64{{many.ID, dst.ID}, {dst.ID, many.ID}} {
			_, _, err := db.MergeUsers(ctx, pair[0], pair[1], agent.ID, "")
			if got := mergedesk.FieldCode(err, "base"); got != merge.CodeTooManyTickets {
				t.Errorf("merge %d into %d with 10,001 tickets: %v, want TooManyTickets", pair[0], pair[1], err)
			}
			p, err := db.PreviewMerge(ctx, pair[0], pair[1])
			if err != nil || p.Eligible() || p.Blockers[0].Error != merge.CodeTooManyTickets || *p.Blockers[0].UserID != many.ID {
				t.Errorf("preview = %+v, %v", p, err)
			}
		}
		if after := dumpDB(t, raw); after != before {
			t.Fatalf("a refused merge changed the database: %s", diffDumps(before, after))
		}
		// Deleted tickets do not count.
		if err := db.DeleteTicket(ctx, extra.ID); err != nil {
			t.Fatal(err)
		}
		target, rec, err := db.MergeUsers(ctx, many.ID, dst.ID, agent.ID, "")
		if err != nil {
			t.Fatalf("merge with exactly 10,000 tickets: %v", err)
		}
		if target.ID != dst.ID || rec.TicketsMoved != 10_000 || rec.CCsMoved != 5_000 {
			t.Errorf("merge = target %d, %d tickets and %d ccs moved; want %d, 10000, 5000", target.ID, rec.TicketsMoved, rec.CCsMoved, dst.ID)
		}
		for _, c := range []struct {
			what string
			q    string
			want int
		}{
			{"tickets requested by the target", "SELECT COUNT(*) FROM tickets WHERE requester_id = $1 AND deleted = FALSE", 10_000},
			{"merge audits", "SELECT COUNT(*) FROM audits WHERE user_merge_id = $1", 10_000},
			{"tickets with a merge audit", "SELECT COUNT(DISTINCT ticket_id) FROM audits WHERE user_merge_id = $1", 10_000},
			{"requester Change events", "SELECT COUNT(*) FROM events e JOIN audits a ON a.id = e.audit_id WHERE a.user_merge_id = $1 AND e.type = 'Change'", 10_000},
			{"EmailCcChange events", "SELECT COUNT(*) FROM events e JOIN audits a ON a.id = e.audit_id WHERE a.user_merge_id = $1 AND e.type = 'EmailCcChange'", 5_000},
			{"target CCs left (archived)", "SELECT COUNT(*) FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id WHERE c.user_id = $1 AND t.archived = TRUE", 5_000},
			{"target CCs on non-archived", "SELECT COUNT(*) FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id WHERE c.user_id = $1 AND t.archived = FALSE", 0},
		} {
			arg := dst.ID
			if strings.Contains(c.q, "user_merge_id") {
				arg = rec.ID
			}
			if got := count(t, raw, c.q, arg); got != c.want {
				t.Errorf("%s = %d, want %d", c.what, got, c.want)
			}
		}
		// The deleted ticket is not touched (and so still names the source).
		if got := count(t, raw, "SELECT COUNT(*) FROM tickets WHERE requester_id = $1", many.ID); got != 1 {
			t.Errorf("tickets left on the source = %d, want the deleted one", got)
		}
	})
}

// TestMergeDoesNotFireTicketHook proves M11: a requester change by a person runs
// the hook (triggers), the same change by a merge does not.
func TestMergeDoesNotFireTicketHook(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := mustTicketUser(t, db, mergedesk.NewUser{Name: "Agent", Role: mergedesk.RoleAgent, Email: "agent@example.com"})
		src := mustTicketUser(t, db, mergedesk.NewUser{Name: "Src", Email: "src@example.com"})
		dst := mustTicketUser(t, db, mergedesk.NewUser{Name: "Dst", Email: "dst@example.com"})
		other := mustTicketUser(t, db, mergedesk.NewUser{Name: "Other", Email: "other@example.com"})
		var calls, requesterChanges int
		db.SetTicketHook(func(ctx context.Context, tx mergedesk.TicketTx, c *mergedesk.TicketChange) error {
			calls++
			if c.Previous != nil && c.Previous.RequesterID != c.Ticket.RequesterID {
				requesterChanges++
			}
			return nil
		})
		t.Cleanup(func() { db.SetTicketHook(nil) })
		tk, _, err := db.CreateTicket(ctx, mergedesk.TicketInput{RequesterID: &other.ID, Comment: &mergedesk.CommentInput{Body: "x"},
			Collaborators: &[]mergedesk.CCRef{{UserID: src.ID}}}, ticketAPIWriter(agent.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.UpdateTicket(ctx, tk.ID, mergedesk.TicketInput{RequesterID: &src.ID}, ticketAPIWriter(agent.ID)); err != nil {
			t.Fatal(err)
		}
		if calls != 2 || requesterChanges != 1 {
			t.Fatalf("hook calls = %d (requester changes %d), want 2 (1)", calls, requesterChanges)
		}
		if _, _, err := db.MergeUsers(ctx, src.ID, dst.ID, agent.ID, ""); err != nil {
			t.Fatal(err)
		}
		if calls != 2 {
			t.Errorf("a merge ran the ticket hook: %d calls, want 2", calls)
		}
		got, err := db.Ticket(ctx, tk.ID)
		if err != nil || got.RequesterID != dst.ID {
			t.Errorf("ticket after merge = %+v, %v", got, err)
		}
	})
}
