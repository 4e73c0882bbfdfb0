package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/duplicates"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

func mustUser(tb testing.TB, db *store.DB, nu mergedesk.NewUser) *mergedesk.User {
	tb.Helper()
	u, err := db.CreateUser(context.Background(), nu)
	if err != nil {
		tb.Fatalf("create %s: %v", nu.Name, err)
	}
	return u
}

// drain empties the detection queue and returns what it held.
func drain(tb testing.TB, db *store.DB) []int64 {
	tb.Helper()
	var out []int64
	for {
		ids, err := db.ClaimDuplicateQueue(context.Background(), 100)
		if err != nil {
			tb.Fatal(err)
		}
		if len(ids) == 0 {
			slices.Sort(out)
			return out
		}
		out = append(out, ids...)
	}
}

func pair(a, b int64, score float64) mergedesk.DuplicateSuggestion {
	return mergedesk.DuplicateSuggestion{UserIDs: [2]int64{a, b}, Score: score, SuggestedTargetID: min(a, b),
		Reasons: []mergedesk.DuplicateReason{{Field: "name", Match: "same_name", Description: "x", Weight: 1}}}
}

func TestDuplicateQueueOnWrites(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "maria@example.com"})
		mustUser(t, db, mergedesk.NewUser{Name: "An Agent", Role: mergedesk.RoleAgent, Email: "agent@example.com"})
		if got := drain(t, db); !slices.Equal(got, []int64{u.ID}) {
			t.Fatalf("queue after create = %v, want [%d] (agents take no part)", got, u.ID)
		}
		name := "Maria S. Souza"
		if _, err := db.UpdateUser(ctx, u.ID, mergedesk.UserUpdate{Name: &name}, nil); err != nil {
			t.Fatal(err)
		}
		if got := drain(t, db); !slices.Equal(got, []int64{u.ID}) {
			t.Errorf("queue after rename = %v", got)
		}
		if _, err := db.AddIdentity(ctx, u.ID, mergedesk.NewIdentity{Type: mergedesk.IdentityEmail, Value: "m2@example.com"}, nil); err != nil {
			t.Fatal(err)
		}
		if got := drain(t, db); !slices.Equal(got, []int64{u.ID}) {
			t.Errorf("queue after identity = %v", got)
		}
		res, err := db.ImportUsers(ctx, []mergedesk.NewUser{{Name: "Imported One"}, {Name: "Imported Two"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := drain(t, db); len(got) != 2 || !slices.Contains(got, res.IDs[0]) {
			t.Errorf("queue after import = %v, want %v", got, res.IDs)
		}
		// Off: nothing is queued.
		if _, err := db.UpdateSettings(ctx, json.RawMessage(`{"duplicates":{"enabled":false}}`)); err != nil {
			t.Fatal(err)
		}
		mustUser(t, db, mergedesk.NewUser{Name: "Quiet One"})
		if got := drain(t, db); len(got) != 0 {
			t.Errorf("queue with detection off = %v, want empty", got)
		}
	})
}

func TestDuplicateSettingsValidate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for body, field := range map[string]string{
			`{"duplicates":{"min_score":0}}`:            "duplicates.min_score",
			`{"duplicates":{"min_score":1.5}}`:          "duplicates.min_score",
			`{"duplicates":{"min_score":"high"}}`:       "duplicates.min_score",
			`{"duplicates":{"user_fields":["dob",""]}}`: "duplicates.user_fields",
			`{"duplicates":{"enabled":"yes"}}`:          "duplicates.enabled",
		} {
			_, err := db.UpdateSettings(ctx, json.RawMessage(body))
			if mergedesk.FieldCode(err, field) == "" {
				t.Errorf("%s: err = %v, want a 422 on %s", body, err, field)
			}
		}
		s, err := db.UpdateSettings(ctx, json.RawMessage(`{"duplicates":{"min_score":0.8,"user_fields":[" dob ","dob"]}}`))
		if err != nil {
			t.Fatal(err)
		}
		if s.Duplicates.MinScore != 0.8 || !slices.Equal(s.Duplicates.UserFields, []string{"dob"}) || !s.Duplicates.Enabled {
			t.Errorf("settings = %+v", s.Duplicates)
		}
	})
}

func TestDuplicateProfiles(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		org, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: ptr("Acme"), DomainNames: &[]string{"acme.com"}})
		if err != nil {
			t.Fatal(err)
		}
		a := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "Maria@Acme.com", Phone: "+14155550100",
			OrganizationID: &org.ID, UserFields: map[string]any{"dob": "1984-02-11", "n": 5.0},
			Identities: []mergedesk.NewIdentity{{Type: mergedesk.IdentityTwitter, Value: "@msouza"}}})
		mustUser(t, db, mergedesk.NewUser{Name: "An Agent", Role: mergedesk.RoleAgent})
		b := mustUser(t, db, mergedesk.NewUser{Name: "Other Person"})
		ps, err := db.DuplicateProfiles(ctx, []int64{a.ID, b.ID, 999999}, []string{"dob", "n", "missing"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 || ps[0].ID != a.ID || ps[1].ID != b.ID {
			t.Fatalf("profiles = %+v", ps)
		}
		p := ps[0]
		if p.Name != "Maria Souza" || !slices.Equal(p.Emails, []string{"maria@acme.com"}) || len(p.Phones) != 1 ||
			len(p.Handles) != 1 || p.Handles[0].Type != mergedesk.IdentityTwitter ||
			!slices.Equal(p.OrgIDs, []int64{org.ID}) || !slices.Equal(p.OrgDomains, []string{"acme.com"}) ||
			!slices.Equal(p.Fields, []string{"1984-02-11", "5", ""}) {
			t.Errorf("profile = %+v", p)
		}
		var all []int64
		if err := db.EachDuplicateProfile(ctx, nil, func(p *duplicates.Profile) error {
			all = append(all, p.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(all, []int64{a.ID, b.ID}) {
			t.Errorf("all profiles = %v, want end users %d, %d", all, a.ID, b.ID)
		}
	})
}

func TestDuplicateKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		big := uint64(math.MaxUint64 - 7) // above MaxInt64: stored as its int64 bits
		if err := db.SetDuplicateKeys(ctx, 1, []uint64{big, 10, 10}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetDuplicateKeys(ctx, 2, []uint64{big}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetDuplicateKeys(ctx, 3, []uint64{10}); err != nil {
			t.Fatal(err)
		}
		got, err := db.DuplicateCandidates(ctx, 1, []uint64{big, 10}, 10)
		if err != nil || !slices.Equal(got, []int64{2, 3}) {
			t.Errorf("candidates = %v, %v", got, err)
		}
		if got, _ := db.DuplicateCandidates(ctx, 1, []uint64{big, 10}, 0); len(got) != 0 {
			t.Errorf("capped at 0 = %v", got)
		}
		counts, err := db.DuplicateKeyCounts(ctx, []uint64{big, 10, 11})
		if err != nil || counts[big] != 2 || counts[10] != 2 || counts[11] != 0 {
			t.Errorf("counts = %v, %v", counts, err)
		}
		if err := db.SetDuplicateKeys(ctx, 1, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.DuplicateCandidates(ctx, 2, []uint64{big}, 10); len(got) != 0 {
			t.Errorf("after clearing user 1 = %v", got)
		}
	})
}

func TestDuplicateSuggestions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var ids []int64
		for _, n := range []string{"A", "B", "C", "D"} {
			ids = append(ids, mustUser(t, db, mergedesk.NewUser{Name: n}).ID)
		}
		a, b, c, d := ids[0], ids[1], ids[2], ids[3]
		if err := db.ReplaceUserDuplicates(ctx, a, []mergedesk.DuplicateSuggestion{pair(b, a, 0.95), pair(a, c, 0.91)}); err != nil {
			t.Fatal(err)
		}
		if err := db.ReplaceUserDuplicates(ctx, d, []mergedesk.DuplicateSuggestion{pair(c, d, 0.99)}); err != nil {
			t.Fatal(err)
		}
		f := mergedesk.SuggestionFilter{}
		f.Normalize()
		list, info, err := db.DuplicateSuggestions(ctx, f, mergedesk.Page{Size: 10})
		if err != nil || len(list) != 3 || info.Total != 3 {
			t.Fatalf("list = %v %+v %v", list, info, err)
		}
		if list[0].Score < list[1].Score || list[1].Score < list[2].Score {
			t.Errorf("not best first: %v %v %v", list[0].Score, list[1].Score, list[2].Score)
		}
		if list[2].UserIDs != [2]int64{a, b} && list[1].UserIDs != [2]int64{a, b} {
			t.Errorf("pair not stored smaller id first: %+v", list)
		}
		// Cursor pages walk the same order.
		p1, info, err := db.DuplicateSuggestions(ctx, f, mergedesk.Page{Size: 2, Cursor: true})
		if err != nil || len(p1) != 2 || !info.HasMore {
			t.Fatalf("cursor page 1 = %v %+v %v", p1, info, err)
		}
		p2, info, err := db.DuplicateSuggestions(ctx, f, mergedesk.Page{Size: 2, Cursor: true, After: p1[1].ID})
		if err != nil || len(p2) != 1 || info.HasMore || p2[0].ID != list[2].ID {
			t.Fatalf("cursor page 2 = %v %+v %v", p2, info, err)
		}
		uid := c
		f2 := mergedesk.SuggestionFilter{UserID: &uid, MinScore: ptr(0.95)}
		f2.Normalize()
		if got, _, _ := db.DuplicateSuggestions(ctx, f2, mergedesk.Page{}); len(got) != 1 || got[0].UserIDs != [2]int64{c, d} {
			t.Errorf("user_id+min_score = %+v", got)
		}

		// D7: dismissed stays dismissed through replacements and rescans.
		ab := findPair(t, list, a, b)
		dis, err := db.DismissDuplicate(ctx, ab.ID, 42)
		if err != nil || dis.Status != mergedesk.SuggestionDismissed || dis.DismissedByID == nil || *dis.DismissedByID != 42 || dis.DismissedAt == nil {
			t.Fatalf("dismiss = %+v, %v", dis, err)
		}
		if err := db.ReplaceUserDuplicates(ctx, a, []mergedesk.DuplicateSuggestion{pair(a, b, 0.99)}); err != nil {
			t.Fatal(err)
		}
		gen, _, err := db.BeginDuplicateScan(ctx, "job1")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SaveScanChunk(ctx, gen, d, []mergedesk.DuplicateSuggestion{pair(a, b, 0.99), pair(c, d, 0.97)}); err != nil {
			t.Fatal(err)
		}
		if err := db.FinishDuplicateScan(ctx, gen); err != nil {
			t.Fatal(err)
		}
		got, err := db.DuplicateSuggestion(ctx, ab.ID)
		if err != nil || got.Status != mergedesk.SuggestionDismissed {
			t.Errorf("dismissed pair after replace and scan = %+v, %v", got, err)
		}
		// The scan replaced open suggestions: a~c was not found again.
		open, _, _ := db.DuplicateSuggestions(ctx, f, mergedesk.Page{})
		if len(open) != 1 || open[0].UserIDs != [2]int64{c, d} {
			t.Errorf("open after scan = %+v", open)
		}
		drain(t, db)
		res, err := db.RestoreDuplicate(ctx, ab.ID)
		if err != nil || res.Status != mergedesk.SuggestionOpen || res.DismissedByID != nil {
			t.Errorf("restore = %+v, %v", res, err)
		}
		if q := drain(t, db); !slices.Equal(q, []int64{a, b}) {
			t.Errorf("restore queued %v, want both users", q)
		}
		if _, err := db.DismissDuplicate(ctx, 987654, 1); mergedesk.ErrorCode(err) != mergedesk.ENotFound {
			t.Errorf("dismiss unknown = %v", err)
		}

		// Groups.
		if err := db.SetDuplicateGroups(ctx, map[int64]int64{c: c, d: c}); err != nil {
			t.Fatal(err)
		}
		if g, _ := db.DuplicateSuggestion(ctx, open[0].ID); g.GroupID != c {
			t.Errorf("group = %d, want %d", g.GroupID, c)
		}
		// Deleting a user drops its open suggestions at once.
		if _, err := db.DeleteUser(ctx, d, 0, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.DuplicateSuggestion(ctx, open[0].ID); mergedesk.ErrorCode(err) != mergedesk.ENotFound {
			t.Errorf("suggestion of a deleted user: %v", err)
		}
		if q := drain(t, db); !slices.Contains(q, c) {
			t.Errorf("deleted user's partner not queued: %v", q)
		}
		// A pair scored before the delete committed is not written back.
		if err := db.ReplaceUserDuplicates(ctx, c, []mergedesk.DuplicateSuggestion{pair(c, d, 0.99)}); err != nil {
			t.Fatal(err)
		}
		fd := mergedesk.SuggestionFilter{UserID: &d}
		fd.Normalize()
		if got, _, _ := db.DuplicateSuggestions(ctx, fd, mergedesk.Page{}); len(got) != 0 {
			t.Errorf("suggestion with a deleted user written: %+v", got[0])
		}
	})
}

func findPair(t *testing.T, l []*mergedesk.DuplicateSuggestion, a, b int64) *mergedesk.DuplicateSuggestion {
	t.Helper()
	for _, s := range l {
		if s.UserIDs == [2]int64{min(a, b), max(a, b)} {
			return s
		}
	}
	t.Fatalf("pair %d~%d not in %+v", a, b, l)
	return nil
}

func TestDuplicateMergeRecord(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "m1@example.com"})
		b := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "m2@example.com"})
		c := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "m3@example.com"})
		x := mustUser(t, db, mergedesk.NewUser{Name: "Xavier", Email: "x@example.com"})
		if err := db.ReplaceUserDuplicates(ctx, a.ID, []mergedesk.DuplicateSuggestion{pair(a.ID, b.ID, 0.95), pair(a.ID, c.ID, 0.93)}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetDuplicateKeys(ctx, b.ID, []uint64{1}); err != nil {
			t.Fatal(err)
		}
		drain(t, db)
		_, rec, err := db.MergeUsers(ctx, b.ID, a.ID, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if rec.DuplicateSuggestionID == nil || rec.DuplicateScore == nil || *rec.DuplicateScore != 0.95 {
			t.Fatalf("merge record = %+v", rec)
		}
		got, err := db.UserMerge(ctx, rec.ID)
		if err != nil || got.DuplicateSuggestionID == nil || *got.DuplicateSuggestionID != *rec.DuplicateSuggestionID || *got.DuplicateScore != 0.95 {
			t.Errorf("stored merge record = %+v, %v", got, err)
		}
		s, err := db.DuplicateSuggestion(ctx, *rec.DuplicateSuggestionID)
		if err != nil || s.Status != mergedesk.SuggestionMerged {
			t.Errorf("suggestion after merge = %+v, %v", s, err)
		}
		if q := drain(t, db); !slices.Contains(q, a.ID) {
			t.Errorf("merge target not queued: %v", q)
		}
		if ids, _ := db.DuplicateCandidates(ctx, 0, []uint64{1}, 10); len(ids) != 0 {
			t.Errorf("source keys left: %v", ids)
		}
		// A merge without a suggestion records nulls.
		_, rec, err = db.MergeUsers(ctx, x.ID, c.ID, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if rec.DuplicateSuggestionID != nil || rec.DuplicateScore != nil {
			t.Errorf("merge without a suggestion = %+v", rec)
		}
	})
}

// TestDuplicateQueueOnOrganizationDomains: an organization's domain_names are
// evidence of each member's (rule D3), so changing them queues its active end
// users, in the transaction of the change (rule D8); a write that leaves them
// as they were, agents and non-members are not queued.
func TestDuplicateQueueOnOrganizationDomains(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		name := "Acme"
		org, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		a := mustUser(t, db, mergedesk.NewUser{Name: "Ana Acme", OrganizationID: &org.ID})
		b := mustUser(t, db, mergedesk.NewUser{Name: "Bo Acme", OrganizationID: &org.ID})
		mustUser(t, db, mergedesk.NewUser{Name: "Al Agent", Role: mergedesk.RoleAgent, Email: "al@acme.example", OrganizationID: &org.ID})
		mustUser(t, db, mergedesk.NewUser{Name: "Nora Nonmember"})
		gone := mustUser(t, db, mergedesk.NewUser{Name: "Del Acme", OrganizationID: &org.ID})
		if _, err := db.DeleteUser(ctx, gone.ID, 0, nil); err != nil {
			t.Fatal(err)
		}
		drain(t, db)

		update := func(w mergedesk.OrganizationWrite) {
			t.Helper()
			if _, err := db.UpdateOrganization(ctx, org.ID, w); err != nil {
				t.Fatal(err)
			}
		}
		domains := []string{"acme.example"}
		update(mergedesk.OrganizationWrite{DomainNames: &domains})
		if got, want := drain(t, db), []int64{a.ID, b.ID}; !slices.Equal(got, want) {
			t.Errorf("queue after domain_names change = %v, want %v", got, want)
		}
		same := []string{"@ACME.example"}
		update(mergedesk.OrganizationWrite{DomainNames: &same})
		notes := "Key account"
		update(mergedesk.OrganizationWrite{Notes: func() **string { p := &notes; return &p }()})
		if got := drain(t, db); len(got) != 0 {
			t.Errorf("queue after writes that keep the domains = %v, want empty", got)
		}
		none := []string{}
		update(mergedesk.OrganizationWrite{DomainNames: &none})
		if got, want := drain(t, db), []int64{a.ID, b.ID}; !slices.Equal(got, want) {
			t.Errorf("queue after domain_names cleared = %v, want %v", got, want)
		}
		// Off: nothing is queued.
		if _, err := db.UpdateSettings(ctx, json.RawMessage(`{"duplicates":{"enabled":false}}`)); err != nil {
			t.Fatal(err)
		}
		update(mergedesk.OrganizationWrite{DomainNames: &domains})
		if got := drain(t, db); len(got) != 0 {
			t.Errorf("queue with detection off = %v, want empty", got)
		}
	})
}

// TestDuplicateQueueOnImport: ImportUsers queues the end users it created,
// set-based in its own transaction (multi-row INSERTs, enqueueDuplicates), across
// more than one statement's worth of rows; not agents, not refused rows, and
// nothing while detection is off (rule D8).
func TestDuplicateQueueOnImport(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		batch := func(prefix string, n int) []mergedesk.NewUser {
			users := make([]mergedesk.NewUser, 0, n+2)
			for i := range n {
				users = append(users, mergedesk.NewUser{Name: fmt.Sprintf("%s %d", prefix, i), Email: fmt.Sprintf("%s%d@example.com", prefix, i)})
			}
			users = append(users,
				mergedesk.NewUser{Name: prefix + " Agent", Role: mergedesk.RoleAgent, Email: prefix + "-agent@example.com"},
				mergedesk.NewUser{Name: prefix + " Clash", Email: prefix + "0@example.com"}) // refused: the first row owns it
			return users
		}
		res, err := db.ImportUsers(ctx, batch("imp", 1200))
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 1201 || res.Skipped != 1 {
			t.Fatalf("import: created %d, skipped %d; want 1201, 1", res.Created, res.Skipped)
		}
		want := slices.Clone(res.IDs[:1200])
		slices.Sort(want)
		if got := drain(t, db); !slices.Equal(got, want) {
			t.Errorf("queue after import holds %d users, want the %d imported end users", len(got), len(want))
		}
		if _, err := db.UpdateSettings(ctx, json.RawMessage(`{"duplicates":{"enabled":false}}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ImportUsers(ctx, batch("off", 600)); err != nil {
			t.Fatal(err)
		}
		if got := drain(t, db); len(got) != 0 {
			t.Errorf("queue after import with detection off holds %d users, want none", len(got))
		}
	})
}
