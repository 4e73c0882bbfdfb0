package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk/internal/search"
)

// searchTestDB runs fn as subtest "sqlite" on a fresh SQLite file and as subtest
// "postgres" on a fresh schema of the server named by MERGEDESK_TEST_POSTGRES.
// Without that variable the PostgreSQL subtest is skipped, except in CI, where
// it fails.
func searchTestDB(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		db, err := Open(t.Context(), "sqlite:"+t.TempDir()+"/t.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("MERGEDESK_TEST_POSTGRES")
		if dsn == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("MERGEDESK_TEST_POSTGRES is not set; CI runs every store test on PostgreSQL")
			}
			t.Skip("MERGEDESK_TEST_POSTGRES is not set")
		}
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		schema := fmt.Sprintf("s_search_%d", time.Now().UnixNano())
		if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
			admin.Close()
			t.Fatalf("create schema: %v", err)
		}
		// Cleanups run last-registered first: the store closes before the drop.
		t.Cleanup(func() {
			if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Errorf("drop schema: %v", err)
			}
			admin.Close()
		})
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		v := u.Query()
		v.Set("search_path", schema)
		u.RawQuery = v.Encode()
		db, err := Open(t.Context(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

// searchTime returns the unix time of an RFC 3339 timestamp.
func searchTime(t testing.TB, s string) int64 {
	t.Helper()
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.Unix()
}

// searchFixture inserts the records the search tests expect, with plain SQL.
//
// Default order (updated_at desc):
//
//	users:         1 Ann Lee, 2 Bob Stone, 4 Dana Ünal, 5 Eve_Underscore (3 Ann Gone is inactive)
//	tickets:       101, 100, 103, 104 (102 is deleted)
//	organizations: 11 Globex Corporation, 10 Acme, 12 "123"
//	groups:        22 Support Tier 2, 20 Support (21 Billing is deleted)
func searchFixture(t *testing.T, db *DB) {
	t.Helper()
	ts := func(s string) int64 { return searchTime(t, s) }
	type row struct {
		q    string
		args []any
	}
	var rows []row
	add := func(q string, args ...any) { rows = append(rows, row{q, args}) }

	user := func(id int64, name, norm, role string, active bool, tags string, notes, details, ext any, created, updated string) {
		add(`INSERT INTO users (id, name, name_norm, role, active, tags, notes, details, external_id, external_id_norm, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, name, norm, role, active, tags, notes, details, ext, ext, ts(created), ts(updated))
	}
	user(1, "Ann Lee", "ann lee", "end-user", true, " vip gold ", "Prefers phone", nil, "EXT-1", "2024-05-02T10:00:00Z", "2024-06-05T00:00:00Z")
	user(2, "Bob Stone", "bob stone", "agent", true, "", nil, "Night shift", nil, "2024-05-01T23:59:59Z", "2024-06-04T00:00:00Z")
	user(3, "Ann Gone", "ann gone", "end-user", false, " gold ", "phone", nil, nil, "2024-05-02T11:00:00Z", "2024-06-09T00:00:00Z")
	user(4, "Dana Ünal", "dana ünal", "admin", true, " gold ", "Likes 100% cotton", nil, nil, "2024-05-03T00:00:00Z", "2024-06-03T00:00:00Z")
	user(5, "Eve_Underscore", "eve_underscore", "end-user", true, "", nil, nil, nil, "2024-04-30T00:00:00Z", "2024-06-02T00:00:00Z")

	ident := func(userID int64, typ, value, norm string) {
		add(`INSERT INTO identities (user_id, type, value, value_norm, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			userID, typ, value, norm, ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"))
	}
	ident(1, "email", "Ann@Example.com", "ann@example.com")
	ident(1, "phone_number", "+14155550101", "+14155550101")
	ident(2, "email", "bob@example.org", "bob@example.org")
	ident(4, "email", "dana@globex.com", "dana@globex.com")
	ident(5, "twitter", "eve415", "eve415")

	org := func(id int64, name, domains, tags string, ext, details, notes any, created, updated string) {
		add(`INSERT INTO organizations (id, name, name_norm, domain_names, tags, external_id, external_id_norm, details, notes, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, name, strings.ToLower(name), domains, tags, ext, ext, details, notes, ts(created), ts(updated))
	}
	org(10, "Acme", "acme.com", " partner ", "ORG-10", "Widgets", nil, "2024-01-10T00:00:00Z", "2024-06-01T00:00:00Z")
	org(11, "Globex Corporation", "globex.com globex.net", "", nil, nil, "Key account", "2024-02-01T08:00:00Z", "2024-06-02T00:00:00Z")
	org(12, "123", "", "", nil, nil, nil, "2024-03-01T00:00:00Z", "2024-05-01T00:00:00Z")

	member := func(userID, orgID int64) {
		add(`INSERT INTO memberships (user_id, organization_id, created_at, updated_at) VALUES (?, ?, ?, ?)`,
			userID, orgID, ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"))
	}
	member(1, 10)
	member(4, 11)

	group := func(id int64, name string, deleted bool, updated string) {
		add(`INSERT INTO agent_groups (id, name, name_norm, deleted, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, name, strings.ToLower(name), deleted, ts("2024-01-01T00:00:00Z"), ts(updated))
	}
	group(20, "Support", false, "2024-06-01T00:00:00Z")
	group(21, "Billing", true, "2024-06-03T00:00:00Z")
	group(22, "Support Tier 2", false, "2024-06-02T00:00:00Z")

	ticket := func(id int64, subject, status string, priority, typ any, requester int64, assignee, orgID, groupID any,
		tags, via string, archived, deleted bool, created, updated string) {
		add(`INSERT INTO tickets (id, subject, status, priority, type, requester_id, submitter_id, assignee_id, organization_id,
				group_id, tags, via, via_channel, archived, deleted, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, subject, status, priority, typ, requester, requester, assignee, orgID, groupID, tags, via, via,
			archived, deleted, ts(created), ts(updated))
	}
	ticket(100, "Printer on fire", "open", "high", "incident", 1, 2, 10, 20, " urgent printer ", "email", false, false,
		"2024-05-02T12:00:00Z", "2024-06-10T00:00:00Z")
	ticket(101, "Password reset", "solved", "low", "question", 4, nil, 11, nil, "", "web", true, false,
		"2024-05-10T00:00:00Z", "2024-06-11T00:00:00Z")
	ticket(102, "Printer deleted", "new", nil, nil, 1, nil, 10, 20, " urgent ", "email", false, true,
		"2024-05-02T13:00:00Z", "2024-06-12T00:00:00Z")
	ticket(103, "Hello", "new", nil, nil, 2, 2, nil, 22, "", "api", false, false,
		"2024-04-01T00:00:00Z", "2024-06-09T00:00:00Z")
	ticket(104, "Refund", "pending", "urgent", nil, 5, nil, nil, 21, "", "api", false, false,
		"2024-05-20T00:00:00Z", "2024-06-08T00:00:00Z")

	add(`INSERT INTO ticket_ccs (ticket_id, kind, user_id) VALUES (?, ?, ?)`, 103, "cc", 4)
	add(`INSERT INTO ticket_ccs (ticket_id, kind, user_id) VALUES (?, ?, ?)`, 104, "follower", 2)

	comment := func(id, ticketID int64, author int64, public bool, body string) {
		add(`INSERT INTO audits (id, ticket_id, author_id, via, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, ticketID, author, "web", ts("2024-05-10T00:00:00Z"))
		add(`INSERT INTO events (audit_id, ticket_id, type, author_id, public, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, ticketID, "Comment", author, public, body, ts("2024-05-10T00:00:00Z"))
	}
	comment(1, 101, 4, true, "The LASER Printer jammed")
	comment(2, 104, 2, false, "Ann said hi")
	comment(3, 102, 1, true, "cotton")
	// An event that is not a comment does not make a ticket match.
	add(`INSERT INTO events (audit_id, ticket_id, type, body, created_at) VALUES (?, ?, ?, ?, ?)`,
		2, 104, "Change", "cotton", ts("2024-05-10T00:00:00Z"))

	err := db.Update(t.Context(), func(tx *Tx) error {
		for _, r := range rows {
			if _, err := tx.exec(t.Context(), r.q, r.args...); err != nil {
				return fmt.Errorf("%s: %w", r.q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

type searchCase struct {
	query string
	want  []int64
}

// runSearchCases checks each query's ids in the default order and its total.
func runSearchCases(t *testing.T, cases []searchCase, run func(ctx context.Context, q search.Query) ([]int64, int, error)) {
	t.Helper()
	for _, c := range cases {
		q, err := search.Parse(c.query)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.query, err)
		}
		ids, total, err := run(t.Context(), q)
		if err != nil {
			t.Errorf("search %q: %v", c.query, err)
			continue
		}
		if !reflect.DeepEqual(ids, c.want) || total != len(c.want) {
			t.Errorf("search %q = %v (total %d), want %v", c.query, ids, total, c.want)
		}
	}
}

func TestSearchUsers(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		searchFixture(t, db)
		runSearchCases(t, []searchCase{
			{"", []int64{1, 2, 4, 5}},
			{"ann", []int64{1}},
			{"ANN", []int64{1}},
			{"ann lee", []int64{1}},
			{"ann -name:lee", nil},
			{"example", []int64{1, 2}},
			{"phone", []int64{1}},
			{"4155550101", []int64{1}},
			{"(415)555-0101", []int64{1}},
			{"+14155550101", []int64{1}},
			{"5550101", nil},
			{`phone:"(415) 555-0101"`, []int64{1}},
			{"phone:abc", nil},
			{"-phone:4155550101", []int64{2, 4, 5}},
			{"email:ann@example.com", []int64{1}},
			{"email:ANN@EXAMPLE.COM", []int64{1}},
			{"email:ann", nil},
			{"email:*@example.*", []int64{1, 2}},
			{"name:stone", []int64{2}},
			{`name:"Dana Ü"`, []int64{4}},
			{"ÜNAL", []int64{4}},
			{"role:agent", []int64{2}},
			{"role:end-user", []int64{1, 5}},
			{"organization:acme", []int64{1}},
			{"organization:ACM", nil},
			{"organization:11", []int64{4}},
			{`organization:"Globex Corporation"`, []int64{4}},
			{"organization:none", []int64{2, 5}},
			{"tags:gold", []int64{1, 4}},
			{"tag:VIP", []int64{1}},
			{"tags:go", nil},
			{`tags:"gold vip"`, []int64{1}},
			{"-tags:gold", []int64{2, 5}},
			{"external_id:ext-1", []int64{1}},
			{"-external_id:ext-1", []int64{2, 4, 5}},
			{"notes:cotton", []int64{4}},
			{"-notes:phone", []int64{2, 4, 5}},
			{"details:NIGHT", []int64{2}},
			{"created:2024-05-02", []int64{1}},
			{"created<2024-05-02", []int64{2, 5}},
			{"created<=2024-05-02", []int64{1, 2, 5}},
			{"created>2024-05-02", []int64{4}},
			{"created>=2024-05-02", []int64{1, 4}},
			{"created:2024-05-01T23:59:59Z", []int64{2}},
			{"created:yesterday", nil},
			{"updated<=2024-06-03", []int64{4, 5}},
			{"name<ann", nil},
			{"name:", nil},
			{"%", []int64{4}},
			{"_", []int64{5}},
			{"e_u", []int64{5}},
			{"foo:bar", nil},
			{"-foo:bar", []int64{1, 2, 4, 5}},
			{"type:user ann", []int64{1}},
			{`"'; DROP TABLE users; --" what?`, nil},
		}, func(ctx context.Context, q search.Query) ([]int64, int, error) {
			return db.SearchUsers(ctx, q, "US", "", "", 100, 0)
		})
	})
}

func TestSearchTickets(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		searchFixture(t, db)
		runSearchCases(t, []searchCase{
			{"", []int64{101, 100, 103, 104}},
			{"printer", []int64{101, 100}},
			{"PRINTER", []int64{101, 100}},
			{"-printer", []int64{103, 104}},
			{`"on fire"`, []int64{100}},
			{"print*fire", []int64{100}},
			{"said", []int64{104}},
			{"cotton", nil},
			{"printer status:solved", []int64{101}},
			{"status:open", []int64{100}},
			{"status<solved", []int64{100, 103, 104}},
			{"status<=pending", []int64{100, 103, 104}},
			{"status>=solved", []int64{101}},
			{"status>closed", nil},
			{"status:bogus", nil},
			{"-status:solved", []int64{100, 103, 104}},
			{"priority>normal", []int64{100, 104}},
			{"priority<=normal", []int64{101}},
			{"priority:none", []int64{103}},
			{"-priority:high", []int64{101, 103, 104}},
			{"ticket_type:INCIDENT", []int64{100}},
			{"ticket_type:none", []int64{103, 104}},
			{"requester:1", []int64{100}},
			{"requester:ANN@example.com", []int64{100}},
			{"requester:dana@globex.com", []int64{101}},
			{"requester:nobody@example.com", nil},
			{"requester:ann", nil},
			{"assignee:2", []int64{100, 103}},
			{"assignee:bob@example.org", []int64{100, 103}},
			{"assignee:none", []int64{101, 104}},
			{"cc:4", []int64{103}},
			{"cc:dana@globex.com", []int64{103}},
			{"cc:2", []int64{104}},
			{"group:support", []int64{100}},
			{"group:20", []int64{100}},
			{`group:"Support Tier 2"`, []int64{103}},
			{"group:billing", []int64{104}},
			{"group:none", []int64{101}},
			{"organization:acme", []int64{100}},
			{"organization:11", []int64{101}},
			{"organization:none", []int64{103, 104}},
			{"tags:urgent", []int64{100}},
			{"tag:URGENT", []int64{100}},
			{"tags:urg", nil},
			{"-tags:urgent", []int64{101, 103, 104}},
			{"via:email", []int64{100}},
			{"via:api", []int64{103, 104}},
			{"archived:true", []int64{101}},
			{"archived:false", []int64{100, 103, 104}},
			{"archived:maybe", nil},
			{"created:2024-05-02", []int64{100}},
			{"created<2024-05-02", []int64{103}},
			{"created<=2024-05-02", []int64{100, 103}},
			{"created>2024-05-02", []int64{101, 104}},
			{"created>=2024-05-10", []int64{101, 104}},
			{"updated>2024-06-09", []int64{101, 100}},
			{"subject:printer", nil},
			{"foo:bar", nil},
			{"-foo:bar", []int64{101, 100, 103, 104}},
			{"status:", nil},
		}, func(ctx context.Context, q search.Query) ([]int64, int, error) {
			return db.SearchTickets(ctx, q, "", "", 100, 0)
		})
	})
}

func TestSearchOrganizations(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		searchFixture(t, db)
		runSearchCases(t, []searchCase{
			{"", []int64{11, 10, 12}},
			{"acme", []int64{10}},
			{"globex", []int64{11}},
			{"globex.net", []int64{11}},
			{"WIDGETS", []int64{10}},
			{`"key account"`, []int64{11}},
			{"123", []int64{12}},
			{"-acme", []int64{11, 12}},
			{"name:acme", []int64{10}},
			{"name:corp", []int64{11}},
			{"external_id:org-10", []int64{10}},
			{"tags:partner", []int64{10}},
			{"created<2024-02-01", []int64{10}},
			{"created:2024-02-01", []int64{11}},
			{"updated:2024-06-01", nil},
			{"foo:bar", nil},
		}, func(ctx context.Context, q search.Query) ([]int64, int, error) {
			return db.SearchOrganizations(ctx, q, "", "", 100, 0)
		})
	})
}

func TestSearchGroups(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		searchFixture(t, db)
		runSearchCases(t, []searchCase{
			{"", []int64{22, 20}},
			{"support", []int64{22, 20}},
			{"name:TIER", []int64{22}},
			{"billing", nil},
			{"-support", nil},
			{"-tier", []int64{20}},
			{"description:x", nil},
		}, func(ctx context.Context, q search.Query) ([]int64, int, error) {
			return db.SearchGroups(ctx, q, "", "", 100, 0)
		})
	})
}

func TestSearchSortAndPage(t *testing.T) {
	searchTestDB(t, func(t *testing.T, db *DB) {
		searchFixture(t, db)
		all := search.Query{}
		tests := []struct {
			name          string
			sortBy, order string
			limit, offset int
			want          []int64
		}{
			{"Default", "", "", 100, 0, []int64{101, 100, 103, 104}},
			{"UnknownSort", "subject", "sideways", 100, 0, []int64{101, 100, 103, 104}},
			{"UpdatedAsc", "updated_at", "asc", 100, 0, []int64{104, 103, 100, 101}},
			{"CreatedAsc", "created_at", "ASC", 100, 0, []int64{103, 100, 101, 104}},
			{"PriorityAsc", "priority", "asc", 100, 0, []int64{103, 101, 100, 104}},
			{"PriorityDesc", "priority", "desc", 100, 0, []int64{104, 100, 101, 103}},
			{"StatusAsc", "status", "asc", 100, 0, []int64{103, 100, 104, 101}},
			{"TicketTypeAsc", "ticket_type", "asc", 100, 0, []int64{103, 104, 100, 101}},
			{"Page", "", "", 2, 1, []int64{100, 103}},
			{"PastEnd", "", "", 2, 10, nil},
			{"CountOnly", "", "", 0, 0, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ids, total, err := db.SearchTickets(t.Context(), all, tt.sortBy, tt.order, tt.limit, tt.offset)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ids, tt.want) || total != 4 {
					t.Errorf("got %v (total %d), want %v (total 4)", ids, total, tt.want)
				}
			})
		}
		ids, _, err := db.SearchUsers(t.Context(), all, "US", "created_at", "asc", 100, 0)
		if want := []int64{5, 2, 1, 4}; err != nil || !reflect.DeepEqual(ids, want) {
			t.Errorf("users by created_at asc = %v, %v; want %v", ids, err, want)
		}
		ids, _, err = db.SearchOrganizations(t.Context(), all, "created_at", "desc", 100, 0)
		if want := []int64{12, 11, 10}; err != nil || !reflect.DeepEqual(ids, want) {
			t.Errorf("organizations by created_at desc = %v, %v; want %v", ids, err, want)
		}
		ids, _, err = db.SearchGroups(t.Context(), all, "updated_at", "asc", 1, 1)
		if want := []int64{22}; err != nil || !reflect.DeepEqual(ids, want) {
			t.Errorf("groups page 2 by updated_at asc = %v, %v; want %v", ids, err, want)
		}
	})
}

// FuzzSearch checks that any query the parser accepts compiles to SQL that
// SQLite runs.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{
		"", "ann", `phone:"(415) 555-0101"`, "-tags:\"a b\" status<=pending priority>none",
		"requester:a@b.c cc:12 group:none organization:1 created>=2024-05-02 updated<2024-05-02T10:00:00Z",
		`email:*\%_ "'?" ? $1 -archived:true via:x ticket_type:none name: foo:bar`,
	} {
		f.Add(s)
	}
	db, err := Open(context.Background(), "sqlite:"+f.TempDir()+"/t.db")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Fuzz(func(t *testing.T, s string) {
		q, err := search.Parse(s)
		if err != nil {
			return
		}
		ctx := context.Background()
		if _, _, err := db.SearchUsers(ctx, q, "US", "created_at", "asc", 10, 0); err != nil {
			t.Fatalf("SearchUsers(%q): %v", s, err)
		}
		if _, _, err := db.SearchTickets(ctx, q, "priority", "desc", 10, 0); err != nil {
			t.Fatalf("SearchTickets(%q): %v", s, err)
		}
		if _, _, err := db.SearchOrganizations(ctx, q, "", "", 10, 0); err != nil {
			t.Fatalf("SearchOrganizations(%q): %v", s, err)
		}
		if _, _, err := db.SearchGroups(ctx, q, "", "", 10, 0); err != nil {
			t.Fatalf("SearchGroups(%q): %v", s, err)
		}
	})
}
