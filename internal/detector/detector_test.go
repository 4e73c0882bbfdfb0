package detector_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/jobs"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func startDetector(t *testing.T, db *store.DB) *detector.Detector {
	t.Helper()
	d := detector.New(db, quiet)
	d.Start()
	t.Cleanup(func() { d.Stop(context.Background()) })
	return d
}

func mustUser(t *testing.T, db *store.DB, nu mergedesk.NewUser) *mergedesk.User {
	t.Helper()
	u, err := db.CreateUser(context.Background(), nu)
	if err != nil {
		t.Fatalf("create %s: %v", nu.Name, err)
	}
	return u
}

// openPairs returns the open suggestions of user by partner.
func openPairs(t *testing.T, db *store.DB, user int64) map[int64]*mergedesk.DuplicateSuggestion {
	t.Helper()
	f := mergedesk.SuggestionFilter{UserID: &user}
	if err := f.Normalize(); err != nil {
		t.Fatal(err)
	}
	list, _, err := db.DuplicateSuggestions(context.Background(), f, mergedesk.Page{Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]*mergedesk.DuplicateSuggestion{}
	for _, s := range list {
		out[s.Other(user)] = s
	}
	return out
}

// within polls cond for up to 2 seconds (rule D8).
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 2 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLiveDetection(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		d := startDetector(t, db)
		a := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "maria.souza@example.com", Verified: true})
		x := mustUser(t, db, mergedesk.NewUser{Name: "Kwame Mensah", Email: "kwame@example.com"})
		b := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "msouza@example.org"})
		mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Role: mergedesk.RoleAgent, Email: "agent.maria@example.com"})
		within(t, "created users a~b suggested", func() bool { return openPairs(t, db, a.ID)[b.ID] != nil })
		ab := openPairs(t, db, a.ID)[b.ID]
		if ab.UserIDs != [2]int64{a.ID, b.ID} || ab.SuggestedTargetID != a.ID || len(ab.Reasons) == 0 {
			t.Errorf("suggestion = %+v, want pair smaller id first, target the verified one, reasons", ab)
		}
		if n := len(openPairs(t, db, x.ID)); n != 0 {
			t.Errorf("a different person has %d suggestions", n)
		}

		// Auto-capture from a channel.
		res, err := db.ReceiveMessage(ctx, mergedesk.InboundMessage{Channel: mergedesk.ChannelEmail,
			From: mergedesk.Contact{Type: mergedesk.IdentityEmail, Value: "maria.s@example.net", Name: "Maria Souza"}, Subject: "hi", Body: "hello"})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Ticket.RequesterID
		within(t, "auto-captured user suggested", func() bool { return openPairs(t, db, c)[a.ID] != nil })
		within(t, "chained pairs share a group (D9)", func() bool {
			g := map[int64]bool{}
			for _, s := range openPairs(t, db, a.ID) {
				g[s.GroupID] = true
			}
			for _, s := range openPairs(t, db, c) {
				g[s.GroupID] = true
			}
			return len(g) == 1 && !g[0]
		})

		// Live reads.
		cands, err := d.ForUser(ctx, a.ID, nil, false)
		if err != nil || len(cands) != 2 {
			t.Fatalf("ForUser = %+v, %v", cands, err)
		}
		for _, cd := range cands {
			if cd.User == nil || cd.Suggestion == nil || cd.Merge == nil || cd.Merge.Blockers == nil {
				t.Errorf("candidate = %+v", cd)
			}
		}

		// An edit that makes c someone else: its suggestions go.
		name := "Zanele Dlamini"
		if _, err := db.UpdateUser(ctx, c, mergedesk.UserUpdate{Name: &name}, nil); err != nil {
			t.Fatal(err)
		}
		within(t, "renamed user's suggestions removed", func() bool { return len(openPairs(t, db, c)) == 0 })

		// D7: dismissed never comes back, not after an edit nor a scan.
		if _, err := d.Dismiss(ctx, ab.ID, x.ID); err != nil {
			t.Fatal(err)
		}
		if cands, _ := d.ForUser(ctx, a.ID, nil, false); len(cands) != 0 {
			t.Errorf("ForUser shows a dismissed pair: %+v", cands)
		}
		if cands, _ := d.ForUser(ctx, a.ID, nil, true); len(cands) != 1 || cands[0].Suggestion.Status != mergedesk.SuggestionDismissed {
			t.Errorf("ForUser with include_dismissed = %+v", cands)
		}
		tag := "Maria  Souza"
		if _, err := db.UpdateUser(ctx, b.ID, mergedesk.UserUpdate{Name: &tag, UserFields: map[string]any{"x": "1"}}, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		if _, err := d.Scan(ctx, "test-scan", func(int, int) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if s, _ := db.DuplicateSuggestion(ctx, ab.ID); s.Status != mergedesk.SuggestionDismissed {
			t.Errorf("dismissed pair came back: %+v", s)
		}

		// D13: a merge of a suggested pair records it; the source's
		// suggestions go at once.
		e := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza", Email: "maria.e@example.com"})
		within(t, "a~e suggested", func() bool { return openPairs(t, db, a.ID)[e.ID] != nil })
		ae := openPairs(t, db, a.ID)[e.ID]
		_, rec, err := db.MergeUsers(ctx, e.ID, a.ID, x.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if rec.DuplicateSuggestionID == nil || *rec.DuplicateSuggestionID != ae.ID || rec.DuplicateScore == nil || *rec.DuplicateScore != ae.Score {
			t.Errorf("merge record = %+v, want suggestion %d", rec, ae.ID)
		}
		if len(openPairs(t, db, e.ID)) != 0 {
			t.Error("merged-away user keeps open suggestions")
		}
		if s, _ := db.DuplicateSuggestion(ctx, ae.ID); s.Status != mergedesk.SuggestionMerged {
			t.Errorf("suggestion after merge = %+v", s)
		}
	})
}

func TestScanJob(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Users imported with detection off: only a scan finds them.
		if _, err := db.UpdateSettings(ctx, json.RawMessage(`{"duplicates":{"enabled":false}}`)); err != nil {
			t.Fatal(err)
		}
		a := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza"})
		b := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza"})
		c := mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza"})
		mustUser(t, db, mergedesk.NewUser{Name: "Kwame Mensah"})
		if _, err := db.UpdateSettings(ctx, json.RawMessage(`{"duplicates":{"enabled":true}}`)); err != nil {
			t.Fatal(err)
		}
		if len(openPairs(t, db, a.ID)) != 0 {
			t.Fatal("suggestions before any scan")
		}
		runner := &jobs.Runner{DB: db, Logger: quiet}
		d := detector.New(db, quiet)
		d.RegisterJobs(runner)
		j, err := d.StartScan(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		again, err := d.StartScan(ctx, 1)
		if err != nil || again.ID != j.ID {
			t.Errorf("second scan = %v, %v; want the queued one %s", again, err, j.ID)
		}
		runner.Start()
		defer runner.Stop(ctx)
		deadline := time.Now().Add(10 * time.Second)
		for {
			j, err = db.Job(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if j.Status == mergedesk.JobCompleted || j.Status == mergedesk.JobFailed || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if j.Status != mergedesk.JobCompleted || j.Progress != 4 || j.Total != 4 || len(j.Results) != 1 {
			t.Fatalf("job = %+v", j)
		}
		var res map[string]any
		json.Unmarshal(j.Results[0], &res)
		if res["index"] != 0.0 || res["success"] != true || res["status"] != "Completed" || res["suggestions"] != 3.0 || res["groups"] != 1.0 {
			t.Errorf("results = %s", j.Results[0])
		}
		if _, ok := res["seconds"].(float64); !ok {
			t.Errorf("results lack seconds: %s", j.Results[0])
		}
		ps := openPairs(t, db, b.ID)
		if len(ps) != 2 || ps[a.ID] == nil || ps[c.ID] == nil || ps[a.ID].GroupID != a.ID || ps[c.ID].GroupID != a.ID {
			t.Errorf("after scan b has %+v", ps)
		}
	})
}

func TestScanResumes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var ids []int64
		for range 5 {
			ids = append(ids, mustUser(t, db, mergedesk.NewUser{Name: "Maria Souza"}).ID)
		}
		d := detector.New(db, quiet)
		d.ScanChunk = 2
		// Cut the scan off after its first chunk.
		cut, cancel := context.WithCancel(ctx)
		_, err := d.Scan(cut, "s1", func(done, total int) error {
			if done == 2 {
				cancel()
			}
			return nil
		})
		if err == nil {
			t.Fatal("the cut scan finished")
		}
		var seen []int
		sum, err := d.Scan(ctx, "s1", func(done, total int) error {
			seen = append(seen, done)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) == 0 || seen[0] != 2 || seen[len(seen)-1] != 5 {
			t.Errorf("progress on resume = %v", seen)
		}
		if sum.Suggestions != 10 || sum.Groups != 1 {
			t.Errorf("summary = %+v, want 10 pairs in 1 group", sum)
		}
	})
}
