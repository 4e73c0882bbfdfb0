package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func mustOrg(tb testing.TB, db *store.DB, name string) *mergedesk.Organization {
	tb.Helper()
	o, err := db.CreateOrganization(context.Background(), mergedesk.OrganizationWrite{Name: &name})
	if err != nil {
		tb.Fatalf("create organization %q: %v", name, err)
	}
	return o
}

func allowMultipleOrgs(tb testing.TB, db *store.DB) {
	tb.Helper()
	if _, err := db.UpdateSettings(context.Background(), json.RawMessage(`{"users":{"multiple_organizations":true}}`)); err != nil {
		tb.Fatal(err)
	}
}

func TestOrganizationUniqueness(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ext := ptr("CRM-1")
		a, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: ptr("Acme"), ExternalID: &ext,
			DomainNames: &[]string{"Acme.com", "@acme.io"}, Tags: &[]string{"VIP"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := a.DomainNames, []string{"acme.com", "acme.io"}; !slices.Equal(got, want) {
			t.Errorf("domain_names = %v, want %v", got, want)
		}
		tests := []struct {
			name  string
			w     mergedesk.OrganizationWrite
			field string
		}{
			{"NameCase", mergedesk.OrganizationWrite{Name: ptr(" ACME ")}, "name"},
			{"ExternalIDCase", mergedesk.OrganizationWrite{Name: ptr("Other"), ExternalID: &[]*string{ptr("crm-1")}[0]}, "external_id"},
			{"Blank", mergedesk.OrganizationWrite{Name: ptr("  ")}, "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.CreateOrganization(ctx, tt.w)
				if mergedesk.FieldCode(err, tt.field) == "" {
					t.Errorf("err = %v, want a RecordInvalid on %s", err, tt.field)
				}
			})
		}
		b := mustOrg(t, db, "Beta")
		if _, err := db.UpdateOrganization(ctx, b.ID, mergedesk.OrganizationWrite{Name: ptr("acme")}); mergedesk.FieldCode(err, "name") != mergedesk.CodeDuplicate {
			t.Errorf("rename to a taken name: err = %v, want name DuplicateValue", err)
		}
		found, _, err := db.Organizations(ctx, mergedesk.OrganizationFilter{ExternalID: ptr("crm-1")}, mergedesk.Page{})
		if err != nil || len(found) != 1 || found[0].ID != a.ID {
			t.Errorf("search by external id = %v, %v; want [%d]", found, err, a.ID)
		}
	})
}

func TestDeleteOrganizationPromotesNextDefault(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		allowMultipleOrgs(t, db)
		zulu, alpha, mike := mustOrg(t, db, "Zulu"), mustOrg(t, db, "alpha"), mustOrg(t, db, "Mike")
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann", OrganizationID: &zulu.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []*mergedesk.Organization{mike, alpha} {
			if _, err := db.CreateMembership(ctx, u.ID, o.ID, false, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.DeleteOrganization(ctx, zulu.ID); err != nil {
			t.Fatal(err)
		}
		got, err := db.User(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := got.DefaultOrganizationID(); d == nil || *d != alpha.ID {
			t.Errorf("default organization = %v, want %d (first by name)", d, alpha.ID)
		}
		if _, err := db.Organization(ctx, zulu.ID); mergedesk.ErrorCode(err) != mergedesk.ENotFound {
			t.Errorf("deleted organization: err = %v, want RecordNotFound", err)
		}
	})
}

func TestUserMembershipsPageInUserOrder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		allowMultipleOrgs(t, db)
		u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann"})
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]int64{}
		for _, n := range []string{"Echo", "bravo", "Delta", "alpha", "Charlie"} {
			m, err := db.CreateMembership(ctx, u.ID, mustOrg(t, db, n).ID, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			byName[n] = m.ID
		}
		// Echo came first, so it is the default and leads the list.
		want := []int64{byName["Echo"], byName["alpha"], byName["bravo"], byName["Charlie"], byName["Delta"]}
		f := mergedesk.MembershipFilter{UserID: &u.ID}
		var got []int64
		p := mergedesk.Page{Cursor: true, Size: 2}
		for range 5 {
			ms, info, err := db.Memberships(ctx, f, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				got = append(got, m.ID)
			}
			if !info.HasMore {
				break
			}
			p.After = ms[len(ms)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("cursor pages = %v, want %v", got, want)
		}
		back, info, err := db.Memberships(ctx, f, mergedesk.Page{Cursor: true, Size: 2, Before: want[4]})
		if err != nil {
			t.Fatal(err)
		}
		if ids := []int64{back[0].ID, back[1].ID}; !slices.Equal(ids, want[2:4]) || !info.HasPrev {
			t.Errorf("page before the last = %v (has_prev %v), want %v", ids, info.HasPrev, want[2:4])
		}
		off, info, err := db.Memberships(ctx, f, mergedesk.Page{Size: 2, Offset: 2})
		if err != nil {
			t.Fatal(err)
		}
		if ids := []int64{off[0].ID, off[1].ID}; !slices.Equal(ids, want[2:4]) || info.Total != 5 {
			t.Errorf("offset page 2 = %v (total %d), want %v of 5", ids, info.Total, want[2:4])
		}
	})
}

func TestDeleteGroupClearsOrganizationsAndFreesName(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, err := db.CreateGroup(ctx, mergedesk.GroupWrite{Name: ptr("Billing")})
		if err != nil {
			t.Fatal(err)
		}
		gid := &g.ID
		o, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: ptr("Acme"), GroupID: &gid})
		if err != nil {
			t.Fatal(err)
		}
		if o.GroupID == nil || *o.GroupID != g.ID {
			t.Fatalf("group_id = %v, want %d", o.GroupID, g.ID)
		}
		if _, err := db.CreateGroup(ctx, mergedesk.GroupWrite{Name: ptr("BILLING")}); mergedesk.FieldCode(err, "name") != mergedesk.CodeDuplicate {
			t.Errorf("duplicate group name: err = %v, want DuplicateValue", err)
		}
		if err := db.DeleteGroup(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if o, _ = db.Organization(ctx, o.ID); o.GroupID != nil {
			t.Errorf("organization group_id = %d after the group was deleted, want null", *o.GroupID)
		}
		if _, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: ptr("Beta"), GroupID: &gid}); mergedesk.FieldCode(err, "group_id") != mergedesk.CodeInvalid {
			t.Errorf("organization routed to a deleted group: err = %v, want group_id InvalidValue", err)
		}
		if _, err := db.CreateGroup(ctx, mergedesk.GroupWrite{Name: ptr("Billing")}); err != nil {
			t.Errorf("reusing a deleted group's name: %v", err)
		}
	})
}

func TestHelpCenterCounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ann, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann"})
		if err != nil {
			t.Fatal(err)
		}
		bo, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Bo"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := db.CreatePost(ctx, mergedesk.NewPost{Title: "Dark mode?", AuthorID: ann.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []error{
			func() error { _, err := db.CreatePostComment(ctx, p.ID, ann.ID, "Please"); return err }(),
			func() error { _, err := db.CreatePostComment(ctx, p.ID, bo.ID, "+1"); return err }(),
			func() error { _, err := db.CastVote(ctx, p.ID, bo.ID, 1); return err }(),
			func() error { _, err := db.CastVote(ctx, p.ID, bo.ID, -1); return err }(),
			func() error { _, err := db.Subscribe(ctx, p.ID, bo.ID); return err }(),
		} {
			if step != nil {
				t.Fatal(step)
			}
		}
		type counts struct{ posts, comments, votes, subs int }
		for _, tt := range []struct {
			id   int64
			want counts
		}{{ann.ID, counts{1, 1, 0, 0}}, {bo.ID, counts{0, 1, 1, 1}}} {
			var c counts
			c.posts, c.comments, c.votes, c.subs, err = db.HelpCenterCounts(ctx, tt.id)
			if err != nil || c != tt.want {
				t.Errorf("user %d counts = %+v, %v; want %+v", tt.id, c, err, tt.want)
			}
		}
		got, err := db.Post(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.VoteSum != -1 || got.VoteCount != 1 || got.CommentCount != 2 || got.FollowerCount != 1 {
			t.Errorf("post counters = %d/%d/%d/%d, want -1/1/2/1", got.VoteSum, got.VoteCount, got.CommentCount, got.FollowerCount)
		}
	})
}

func TestConcurrentMembershipsKeepOneDefault(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, multiple := range []bool{false, true} {
			if multiple {
				allowMultipleOrgs(t, db)
			}
			u, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ann"})
			if err != nil {
				t.Fatal(err)
			}
			const n = 6
			orgs := make([]int64, n)
			for i := range orgs {
				orgs[i] = mustOrg(t, db, fmt.Sprintf("Org %v %d", multiple, i)).ID
			}
			errs := make(chan error, n)
			for _, o := range orgs {
				go func() {
					_, err := db.CreateMembership(ctx, u.ID, o, false, nil)
					errs <- err
				}()
			}
			ok := 0
			for range n {
				err := <-errs
				switch {
				case err == nil:
					ok++
				case mergedesk.FieldCode(err, "organization_id") != mergedesk.CodeMultipleOrgs:
					t.Errorf("multiple %v: unexpected error %v", multiple, err)
				}
			}
			got, err := db.User(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			defaults := 0
			for _, m := range got.Memberships {
				if m.Default {
					defaults++
				}
			}
			want := 1
			if multiple {
				want = n
			}
			if ok != want || len(got.Memberships) != want || defaults != 1 {
				t.Errorf("multiple %v: %d created, %d memberships, %d defaults; want %d, %d, 1",
					multiple, ok, len(got.Memberships), defaults, want, want)
			}
		}
	})
}
