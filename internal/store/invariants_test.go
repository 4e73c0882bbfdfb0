package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// mergedFixture is a database where source was merged into target: source
// requested 4 tickets (2 archived) CC'ing other, and is CC'd on 4 of other's.
type mergedFixture struct {
	db                     *store.DB
	raw                    *sql.DB // bypasses the store to break things
	dialect                string
	source, target, other  int64
	mergeID                int64
	openOfOther, openOfTgt int64 // a non-archived ticket of other, of target
}

func newMergedFixture(t *testing.T, dialect, dsn string) *mergedFixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.MustOpen(t, dsn)
	f := &mergedFixture{db: db, dialect: dialect}
	mk := func(name, role string) int64 {
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: name, Role: role, Email: strings.ToLower(name) + "@example.com"})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return u.ID
	}
	admin := mk("Admin", mergedesk.RoleAdmin)
	f.source, f.target, f.other = mk("Source", ""), mk("Target", ""), mk("Other", "")
	if err := db.SeedTickets(ctx, f.source, 4, []int64{f.other}, "src"); err != nil {
		t.Fatal(err)
	}
	if err := db.SeedTickets(ctx, f.other, 4, []int64{f.source}, "oth"); err != nil {
		t.Fatal(err)
	}
	if err := db.SeedTickets(ctx, f.target, 2, nil, "tgt"); err != nil {
		t.Fatal(err)
	}
	_, rec, err := db.MergeUsers(ctx, f.source, f.target, admin, "")
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	f.mergeID = rec.ID

	driver, rawDSN := "pgx", dsn
	if dialect == "sqlite" {
		// Foreign keys stay off on this connection, so a test can orphan rows.
		driver, rawDSN = "sqlite", "file:"+strings.TrimPrefix(dsn, "sqlite:")+"?_pragma=busy_timeout(5000)"
	}
	if f.raw, err = sql.Open(driver, rawDSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.raw.Close() })
	f.openOfOther = f.scalar(t, "SELECT MIN(id) FROM tickets WHERE external_id = 'oth' AND archived = FALSE")
	f.openOfTgt = f.scalar(t, "SELECT MIN(id) FROM tickets WHERE external_id = 'tgt' AND archived = FALSE")
	return f
}

func (f *mergedFixture) scalar(t *testing.T, q string) int64 {
	t.Helper()
	var n int64
	if err := f.raw.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (f *mergedFixture) exec(t *testing.T, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := f.raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestCheckInvariants(t *testing.T) {
	ctx := context.Background()
	for dialect, dsn := range storetest.DSNs(t) {
		t.Run(dialect, func(t *testing.T) {
			f := newMergedFixture(t, dialect, dsn)
			got, err := f.db.CheckInvariants(ctx)
			if err != nil || len(got) != 0 {
				t.Fatalf("after a clean merge: CheckInvariants = %q, %v; want none", got, err)
			}
		})
	}

	tests := []struct {
		name    string
		corrupt func(t *testing.T, f *mergedFixture)
		want    string
	}{
		{"MissingRequester", func(t *testing.T, f *mergedFixture) {
			if f.dialect == "postgres" {
				f.exec(t, "ALTER TABLE tickets DROP CONSTRAINT tickets_requester_id_fkey")
			}
			f.exec(t, fmt.Sprintf("UPDATE tickets SET requester_id = 987654 WHERE id = %d", f.openOfTgt))
		}, "requester 987654 does not exist"},
		{"IdentityOfInactiveUser", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf(`INSERT INTO identities (user_id, type, value, value_norm, created_at, updated_at)
				VALUES (%d, 'email', 'late@example.com', 'late@example.com', 0, 0)`, f.source))
		}, "is inactive or missing"},
		{"IdentityOfTwoUsers", func(t *testing.T, f *mergedFixture) {
			f.exec(t, "DROP INDEX identities_value", fmt.Sprintf(`INSERT INTO identities (user_id, type, value, value_norm, created_at, updated_at)
				VALUES (%d, 'email', 'Target@example.com', 'target@example.com', 0, 0)`, f.other))
		}, "2 copies of one value owned by 2 users"},
		{"TwoPrimaries", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf("UPDATE identities SET is_primary = TRUE WHERE user_id = %d", f.target))
		}, "2 primary identities"},
		{"InactiveMember", func(t *testing.T, f *mergedFixture) {
			f.exec(t, "INSERT INTO organizations (name, name_norm, created_at, updated_at) VALUES ('Org', 'org', 0, 0)",
				fmt.Sprintf(`INSERT INTO memberships (user_id, organization_id, is_default, created_at, updated_at)
					SELECT %d, id, TRUE, 0, 0 FROM organizations WHERE name_norm = 'org'`, f.source))
		}, "inactive but member of 1 organizations"},
		{"ActiveButMerged", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf("UPDATE users SET merged_into_id = %d WHERE id = %d", f.target, f.other))
		}, "active but merged_into_id"},
		{"MergeUndone", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf("UPDATE users SET active = TRUE, merged_into_id = NULL WHERE id = %d", f.source))
		}, "is active or not merged into target"},
		{"MergedWithoutRecord", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf("UPDATE users SET active = FALSE, merged_into_id = %d WHERE id = %d", f.target, f.other))
		}, "has 0 merge records"},
		{"SourceStillRequests", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf("UPDATE tickets SET requester_id = %d WHERE external_id = 'src'", f.source))
		}, "still requests 4 tickets"},
		{"MergedUserStillCCd", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf("INSERT INTO ticket_ccs (ticket_id, kind, user_id) VALUES (%d, 'cc', %d)", f.openOfTgt, f.source))
		}, "is still CC'd"},
		{"AuditWithoutRecord", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf(`INSERT INTO audits (ticket_id, author_id, via, created_at, user_merge_id)
				VALUES (%d, 1, '{}', 0, 424242)`, f.openOfTgt))
		}, "user_merge_id 424242: 1 audits without a merge record"},
		{"TicketLacksAudit", func(t *testing.T, f *mergedFixture) {
			sub := fmt.Sprintf("SELECT MIN(a.id) FROM audits a JOIN tickets t ON t.id = a.ticket_id WHERE a.user_merge_id = %d AND t.external_id = 'src'", f.mergeID)
			f.exec(t, "DELETE FROM events WHERE audit_id = ("+sub+")", "DELETE FROM audits WHERE id = ("+sub+")")
		}, "moved 4 tickets and changed 2 CC lists, but has 3 requester changes"},
		{"TwoAuditsOneMerge", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf(`INSERT INTO audits (ticket_id, author_id, via, created_at, user_merge_id)
				VALUES (%d, 1, '{}', 0, %d)`, f.openOfOther, f.mergeID))
		}, "ticket %d: 2 audits for merge %d"},
		{"RequesterCCd", func(t *testing.T, f *mergedFixture) {
			f.exec(t, fmt.Sprintf("INSERT INTO ticket_ccs (ticket_id, kind, user_id) VALUES (%d, 'cc', %d)", f.openOfTgt, f.target))
		}, "is in its own CC list"},
		{"DuplicateCC", func(t *testing.T, f *mergedFixture) {
			// Without its primary key, as a broken migration would leave it.
			f.exec(t, "CREATE TABLE ticket_ccs_copy AS SELECT * FROM ticket_ccs", "DROP TABLE ticket_ccs",
				"ALTER TABLE ticket_ccs_copy RENAME TO ticket_ccs",
				fmt.Sprintf("INSERT INTO ticket_ccs (ticket_id, kind, user_id) SELECT ticket_id, kind, user_id FROM ticket_ccs WHERE ticket_id = %d", f.openOfOther))
		}, "listed 2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for dialect, dsn := range storetest.DSNs(t) {
				t.Run(dialect, func(t *testing.T) {
					f := newMergedFixture(t, dialect, dsn)
					tt.corrupt(t, f)
					want := tt.want
					if strings.Contains(want, "%d") {
						want = fmt.Sprintf(want, f.openOfOther, f.mergeID)
					}
					got, err := f.db.CheckInvariants(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if !slicesContainSubstring(got, want) {
						t.Errorf("CheckInvariants = %q\nwant a violation containing %q", got, want)
					}
				})
			}
		})
	}
}

func slicesContainSubstring(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
