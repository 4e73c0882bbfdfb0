package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/detector"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/ui"
)

// dupFixture is the fixture with one person split into three profiles that
// the model links: two Maria Souzas at free-mail addresses that are one
// mailbox, and an X profile "M. Souza" (@mariasouza), all with the same date
// of birth (a compared user field). ("Souza Maria" at
// m.souza@souza-consulting.example scores about 0.06 against them: a
// different address is evidence against, so it is not suggested.)
type dupFixture struct {
	*fixture
	Det                   *detector.Detector
	Maria, Maria2, MSouza *mergedesk.User
}

func newDupFixture(tb testing.TB, db *store.DB) *dupFixture {
	tb.Helper()
	ctx := context.Background()
	f := &dupFixture{fixture: newFixture(tb, db), Det: detector.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if _, err := db.UpdateSettings(ctx, json.RawMessage(`{"duplicates":{"enabled":true,"user_fields":["dob"]}}`)); err != nil {
		tb.Fatal(err)
	}
	dob := map[string]any{"dob": "1984-03-12"}
	f.Maria = mustUser(tb, db, mergedesk.NewUser{Name: "Maria Souza", Email: "maria.souza@gmail.com", Verified: true, UserFields: dob})
	f.Maria2 = mustUser(tb, db, mergedesk.NewUser{Name: "Maria Souza", Email: "mariasouza+shop@googlemail.com", UserFields: dob})
	f.MSouza = mustUser(tb, db, mergedesk.NewUser{Name: "M. Souza", UserFields: dob,
		Identities: []mergedesk.NewIdentity{{Type: mergedesk.IdentityTwitter, Value: "mariasouza"}}})
	return f
}

// detect drains the detector's queue, as its live worker would (rule D8).
func (f *dupFixture) detect(tb testing.TB) {
	tb.Helper()
	for {
		n, err := f.Det.RunQueue(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// open returns the open suggestions of user by partner.
func (f *dupFixture) open(tb testing.TB, user int64) map[int64]*mergedesk.DuplicateSuggestion {
	tb.Helper()
	list, _, err := f.Det.Suggestions(context.Background(), mergedesk.SuggestionFilter{UserID: &user}, mergedesk.Page{Size: 100})
	if err != nil {
		tb.Fatal(err)
	}
	out := map[int64]*mergedesk.DuplicateSuggestion{}
	for _, s := range list {
		out[s.Other(user)] = s
	}
	return out
}

// newDupServer starts the UI with duplicate detection wired.
func newDupServer(tb testing.TB, f *dupFixture) (*ui.Server, *httptest.Server) {
	tb.Helper()
	s, err := ui.New(f.DB, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	s.Duplicates = f.Det
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return s, ts
}

// annPair adds a phone-only caller that the model links to an existing
// customer: the same name, the same date of birth, and the same national
// number under another country code (the caller's number as the phone channel
// captured it, the customer's as she once gave it abroad). The caller is
// unverified and has no email, so rule M3 refuses to merge her until an agent
// verifies her number.
func annPair(tb testing.TB, f *dupFixture) (caller, customer *mergedesk.User) {
	tb.Helper()
	dob := map[string]any{"dob": "1990-07-04"}
	customer = mustUser(tb, f.DB, mergedesk.NewUser{Name: "Ann Example", Email: "ann.example@example.net", Phone: "+442125550199", Verified: true, UserFields: dob})
	caller = mustUser(tb, f.DB, mergedesk.NewUser{Name: "Ann Example", Phone: "+12125550199", UserFields: dob})
	return caller, customer
}

func dupSetup(tb testing.TB) (*dupFixture, *httptest.Server) {
	tb.Helper()
	db := storetest.MustOpen(tb, "sqlite:"+tb.TempDir()+"/ui.db")
	f := newDupFixture(tb, db)
	f.detect(tb)
	_, ts := newDupServer(tb, f)
	return f, ts
}

// TestDuplicatesRoles: the panel, the page and dismissing are for agents and
// admins (rule D11); an end user's session is sent to sign in (GET) or
// refused (POST), and changes nothing.
func TestDuplicatesRoles(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newDupFixture(t, db)
		f.detect(t)
		_, ts := newDupServer(t, f)
		sg := f.open(t, f.Maria.ID)[f.Maria2.ID]
		if sg == nil {
			t.Fatal("Maria and her googlemail profile are not suggested")
		}
		t.Run("EndUser", func(t *testing.T) {
			c := newClient(t, ts.URL)
			c.get("/login")
			c.post("/login", url.Values{"email": {"ann@example.com"}, "password": {userPassword}})
			for _, path := range []string{fmt.Sprintf("/users/%d/duplicates", f.Maria.ID), "/duplicates"} {
				resp, _ := c.get(path)
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
					t.Errorf("end user GET %s = %d to %q, want 303 to /login", path, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
			resp, _ := c.post(fmt.Sprintf("/users/%d/duplicates/dismiss", f.Maria.ID), url.Values{"other": {fmt.Sprint(f.Maria2.ID)}, "csrf_token": {"x"}})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("end user dismiss = %d, want 401", resp.StatusCode)
			}
			if got := f.open(t, f.Maria.ID)[f.Maria2.ID]; got == nil || got.Status != mergedesk.SuggestionOpen {
				t.Errorf("after an end user's dismiss the suggestion is %+v, want open", got)
			}
		})
		t.Run("Agent", func(t *testing.T) {
			c := agentClient(t, ts.URL)
			_, doc := c.get(fmt.Sprintf("/users/%d", f.Maria.ID))
			mustQuery(t, doc, "section#duplicates")
			_, doc = c.get(fmt.Sprintf("/users/%d/duplicates", f.Maria.ID), "HX-Request", "true")
			li := mustQuery(t, doc, fmt.Sprintf(`li.duplicate[data-user="%d"]`, f.Maria2.ID))
			got := text(li)
			for _, want := range []string{"Maria Souza", "mariasouza+shop@googlemail.com", "very likely", "is the same mailbox as", "Review merge", "Not the same person"} {
				if !strings.Contains(got, want) {
					t.Errorf("candidate %q does not say %q", got, want)
				}
			}
			mustQuery(t, doc, fmt.Sprintf(`li.duplicate[data-user="%d"]`, f.MSouza.ID))
			// Maria is verified, so the suggested direction is into her.
			b := mustQuery(t, li, "button.review-merge")
			if v, _ := attr(b, "hx-get"); v != fmt.Sprintf("/users/%d/merge/preview?target=%d", f.Maria2.ID, f.Maria.ID) {
				t.Errorf("Review merge loads %q, want the preview of %d into %d", v, f.Maria2.ID, f.Maria.ID)
			}
			_, doc = c.get("/duplicates")
			g := mustQuery(t, doc, "article.duplicate-group")
			if n := len(queryAll(g, "div.dup-col")); n != 3 {
				t.Errorf("the group shows %d profiles, want 3", n)
			}
			mustQuery(t, doc, `nav.sidebar a[href="/duplicates"]`)
		})
		t.Run("Admin", func(t *testing.T) {
			a := newClient(t, ts.URL)
			a.login(adminEmail, adminPassword)
			resp, _ := a.get("/duplicates")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("admin GET /duplicates = %d, want 200", resp.StatusCode)
			}
		})
	})
}

// TestDismissDuplicate: Not the same person needs the form's CSRF token and
// then dismisses the stored suggestion for good (rule D7).
func TestDismissDuplicate(t *testing.T) {
	f, ts := dupSetup(t)
	c := agentClient(t, ts.URL)
	path := fmt.Sprintf("/users/%d/duplicates/dismiss", f.Maria.ID)
	form := func() url.Values { return url.Values{"other": {fmt.Sprint(f.Maria2.ID)}} }
	t.Run("NoCSRF", func(t *testing.T) {
		v := form()
		v.Set("csrf_token", "")
		resp, _ := c.post(path, v)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("dismiss without token = %d, want 403", resp.StatusCode)
		}
		if got := f.open(t, f.Maria.ID)[f.Maria2.ID]; got == nil || got.Status != mergedesk.SuggestionOpen {
			t.Errorf("suggestion after a refused dismiss: %+v, want open", got)
		}
	})
	t.Run("OK", func(t *testing.T) {
		resp, doc := c.post(path, form(), "HX-Request", "true")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("dismiss = %d, want 200", resp.StatusCode)
		}
		if query(doc, fmt.Sprintf(`li.duplicate[data-user="%d"]`, f.Maria2.ID)) != nil {
			t.Error("the dismissed candidate is still in the panel")
		}
		mustQuery(t, doc, "#duplicates-notice")
		all, _, err := f.Det.Suggestions(context.Background(), mergedesk.SuggestionFilter{Status: "all", UserID: &f.Maria.ID}, mergedesk.Page{Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		var dismissed *mergedesk.DuplicateSuggestion
		for _, s := range all {
			if s.Other(f.Maria.ID) == f.Maria2.ID {
				dismissed = s
			}
		}
		if dismissed == nil || dismissed.Status != mergedesk.SuggestionDismissed || dismissed.DismissedByID == nil || *dismissed.DismissedByID != f.Agent.ID {
			t.Errorf("suggestion = %+v, want dismissed by the agent", dismissed)
		}
		// Reloading keeps it out.
		_, doc = c.get(fmt.Sprintf("/users/%d/duplicates", f.Maria.ID), "HX-Request", "true")
		if query(doc, fmt.Sprintf(`li.duplicate[data-user="%d"]`, f.Maria2.ID)) != nil {
			t.Error("the dismissed candidate is back after a reload")
		}
	})
}

// TestDismissUnstored: a pair the panel computes live before the worker has
// stored it can still be dismissed; the UI stores it first.
func TestDismissUnstored(t *testing.T) {
	db := storetest.MustOpen(t, "sqlite:"+t.TempDir()+"/ui.db")
	f := newDupFixture(t, db)
	// Only the first two are evaluated: their keys and pair are stored. The
	// third waits in the queue, so its pairs are known live only.
	if err := f.Det.Evaluate(context.Background(), []int64{f.Maria.ID, f.Maria2.ID}); err != nil {
		t.Fatal(err)
	}
	_, ts := newDupServer(t, f)
	cands, err := f.Det.ForUser(context.Background(), f.MSouza.ID, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var live *mergedesk.DuplicateCandidate
	for i := range cands {
		if cands[i].User.ID == f.Maria.ID {
			live = &cands[i]
		}
	}
	if live == nil || live.Suggestion != nil {
		t.Fatalf("want M. Souza~Maria computed live and not stored, got %+v", live)
	}
	c := agentClient(t, ts.URL)
	resp, _ := c.post(fmt.Sprintf("/users/%d/duplicates/dismiss", f.MSouza.ID), url.Values{"other": {fmt.Sprint(f.Maria.ID)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("dismiss = %d, want 303", resp.StatusCode)
	}
	if cands, err = f.Det.ForUser(context.Background(), f.MSouza.ID, nil, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		if c.User.ID == f.Maria.ID {
			t.Errorf("Maria is still a candidate of M. Souza after dismissal: %+v", c)
		}
	}
}

// TestDuplicateVerifyWayOut: a pair the M3 refusal blocks offers the merge
// dialog's way out in the panel and on the Duplicates page (wayOut), posting
// to the verify route with the session's CSRF token; taking it shows the
// panel or group again with the pair eligible.
func TestDuplicateVerifyWayOut(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newDupFixture(t, db)
		caller, customer := annPair(t, f)
		f.detect(t)
		_, ts := newDupServer(t, f)
		if f.open(t, caller.ID)[customer.ID] == nil {
			t.Fatal("the caller and the customer are not suggested")
		}
		c := agentClient(t, ts.URL)
		li := fmt.Sprintf(`li.duplicate[data-user="%d"]`, customer.ID)
		_, doc := c.get(fmt.Sprintf("/users/%d/duplicates", caller.ID), "HX-Request", "true")
		cand := mustQuery(t, doc, li)
		form := mustQuery(t, cand, "form.way-out")
		action, _ := attr(form, "action")
		wantAction := fmt.Sprintf("/users/%d/identities/%d/verify", caller.ID, caller.Identities[0].ID)
		if action != wantAction {
			t.Errorf("the way out posts to %q, want %q", action, wantAction)
		}
		if got := text(mustQuery(t, form, "button")); got != "Verify +1 212 555 0199" {
			t.Errorf("way out %q, want Verify +1 212 555 0199", got)
		}
		if got := text(cand); !strings.Contains(got, "+1 212 555 0199 is the same national number as +44 21 2555 0199") {
			t.Errorf("candidate %q does not give the phone reason in the international format", got)
		}
		// The same way out on the customer's panel (the caller is the pair's
		// source there too) and on the Duplicates page.
		_, doc = c.get(fmt.Sprintf("/users/%d/duplicates", customer.ID), "HX-Request", "true")
		if v, _ := attr(mustQuery(t, doc, fmt.Sprintf(`li.duplicate[data-user="%d"] form.way-out`, caller.ID)), "action"); v != wantAction {
			t.Errorf("the customer's panel's way out posts to %q", v)
		}
		sg := f.open(t, caller.ID)[customer.ID]
		_, doc = c.get("/duplicates")
		pair := mustQuery(t, doc, fmt.Sprintf(`li.pair[data-suggestion="%d"]`, sg.ID))
		if v, _ := attr(mustQuery(t, pair, "form.way-out"), "action"); v != wantAction {
			t.Errorf("the Duplicates page's way out posts to %q", v)
		}
		mustQuery(t, pair, fmt.Sprintf(`form.way-out input[name=group][value="%d"]`, sg.GroupID))

		t.Run("NoCSRF", func(t *testing.T) {
			resp, _ := c.post(wantAction, url.Values{"panel": {fmt.Sprint(caller.ID)}, "csrf_token": {""}})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("verify without token = %d, want 403", resp.StatusCode)
			}
			if u, _ := f.DB.User(context.Background(), caller.ID); u.Verified() {
				t.Error("a refused verify verified the caller")
			}
		})
		t.Run("Group", func(t *testing.T) {
			resp, doc := c.post(wantAction, url.Values{"group": {fmt.Sprint(sg.GroupID)}}, "HX-Request", "true")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("verify from the group = %d, want 200", resp.StatusCode)
			}
			pair := mustQuery(t, doc, fmt.Sprintf(`li.pair[data-suggestion="%d"]`, sg.ID))
			if query(pair, ".blockers") != nil {
				t.Errorf("the pair still shows blockers: %q", text(pair))
			}
			if got := text(mustQuery(t, doc, ".notice")); got != "+1 212 555 0199 is verified." {
				t.Errorf("notice %q", got)
			}
			if u, _ := f.DB.User(context.Background(), caller.ID); !u.Verified() {
				t.Error("the caller is not verified")
			}
		})
		t.Run("Panel", func(t *testing.T) {
			// Verified already: verifying again changes nothing and answers
			// with the panel, the pair eligible.
			resp, doc := c.post(wantAction, url.Values{"panel": {fmt.Sprint(caller.ID)}}, "HX-Request", "true")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("verify from the panel = %d, want 200", resp.StatusCode)
			}
			cand := mustQuery(t, doc, li)
			if query(cand, ".blockers") != nil || query(cand, "form.way-out") != nil {
				t.Errorf("the candidate is still blocked: %q", text(cand))
			}
			mustQuery(t, doc, "#duplicates-notice")
		})
	})
}

// formValues are the values a browser submits with form n: its named inputs.
func formValues(n *html.Node) url.Values {
	v := url.Values{}
	for _, in := range queryAll(n, "input") {
		if name, ok := attr(in, "name"); ok {
			val, _ := attr(in, "value")
			v.Add(name, val)
		}
	}
	return v
}

// TestGroupMergeWithoutJS merges a group of three as a browser without
// JavaScript does, with plain GETs and form posts: Merge group leads to the
// first merge's preview on a page of its own, each Confirm and merge merges
// one profile (the same store merge, with the version of the preview just
// shown, rule M31) and leads to the next preview, and the last lands on the
// target. Every profile of the group ends up merged into the target.
func TestGroupMergeWithoutJS(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newDupFixture(t, db)
		f.detect(t)
		_, ts := newDupServer(t, f)
		c := agentClient(t, ts.URL)

		_, doc := c.get("/duplicates")
		g := mustQuery(t, doc, "article.duplicate-group")
		start := mustQuery(t, g, `form[action="/duplicates/merge"]`)
		if m, _ := attr(start, "method"); m != "get" {
			t.Fatalf("Merge group form method = %q, want get", m)
		}
		mustQuery(t, start, `button.merge-group[type="submit"]`)
		next := "/duplicates/merge?" + formValues(start).Encode()
		var sources []int64
		for _, u := range []*mergedesk.User{f.Maria2, f.MSouza} {
			sources = append(sources, u.ID)
		}
		for i, source := range sources {
			resp, doc := c.get(next)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", next, resp.StatusCode)
			}
			// A whole page, not the dialog's fragment.
			mustQuery(t, doc, "main#main div#merge-preview")
			if got, want := text(mustQuery(t, doc, "#preview-step")), fmt.Sprintf("Merge %d of %d", i+1, len(sources)); !strings.Contains(got, want) {
				t.Errorf("step line %q, want %q", got, want)
			}
			if i > 0 {
				mustQuery(t, doc, "#preview-notice")
			}
			confirm := mustQuery(t, doc, `div#merge-preview form[method="post"]`)
			if a, _ := attr(confirm, "action"); a != fmt.Sprintf("/users/%d/merge", source) {
				t.Fatalf("step %d confirms %q, want the merge of %d", i+1, a, source)
			}
			mustQuery(t, confirm, "#confirm-merge")
			action, _ := attr(confirm, "action")
			resp, _ = c.post(action, formValues(confirm))
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("confirm step %d = %d, want 303", i+1, resp.StatusCode)
			}
			next = resp.Header.Get("Location")
		}
		if want := fmt.Sprintf("/users/%d?merged=%d", f.Maria.ID, f.MSouza.ID); next != want {
			t.Errorf("after the last merge the agent goes to %q, want %q", next, want)
		}
		for _, id := range sources {
			u, err := f.DB.User(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if u.Active || u.MergedIntoID == nil || *u.MergedIntoID != f.Maria.ID {
				t.Errorf("user %d: active %v, merged into %v; want merged into %d", id, u.Active, u.MergedIntoID, f.Maria.ID)
			}
		}
	})
}
