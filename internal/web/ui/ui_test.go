package ui_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/authlimit"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/ui"
)

// eachDB runs fn on a fresh fixture and UI for every supported database.
func eachDB(t *testing.T, fn func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server)) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		s, ts := newServer(t, db)
		fn(t, f, s, ts)
	})
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLogin(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		t.Run("OK", func(t *testing.T) {
			c := newClient(t, ts.URL)
			c.get("/login?next=/tickets")
			resp, _ := c.post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "next": {"/tickets"}})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tickets" {
				t.Fatalf("got %d to %q, want 303 to /tickets", resp.StatusCode, resp.Header.Get("Location"))
			}
			ck := cookieNamed(resp, "mergedesk_session")
			if ck == nil {
				t.Fatal("no session cookie")
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure || ck.Path != "/" {
				t.Errorf("cookie: HttpOnly=%v SameSite=%v Secure=%v Path=%q; want HttpOnly, Lax, not Secure over http, /",
					ck.HttpOnly, ck.SameSite, ck.Secure, ck.Path)
			}
			resp, doc := c.get("/tickets")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("tickets after login: %d", resp.StatusCode)
			}
			if got := text(query(doc, ".agent-name")); got != "Sam Agent" {
				t.Errorf("signed-in name: got %q, want Sam Agent", got)
			}
		})
		t.Run("Admin", func(t *testing.T) {
			c := newClient(t, ts.URL)
			c.login(adminEmail, adminPassword)
		})
		t.Run("WrongPassword", func(t *testing.T) {
			c := newClient(t, ts.URL)
			c.get("/login")
			resp, doc := c.post("/login", url.Values{"email": {agentEmail}, "password": {"nope"}})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("got %d, want 401", resp.StatusCode)
			}
			if got := text(query(doc, "#error")); !strings.Contains(got, "not correct") {
				t.Errorf("error: got %q", got)
			}
			if cookieNamed(resp, "mergedesk_session") != nil {
				t.Error("session cookie set on a failed login")
			}
		})
		t.Run("EndUserRefused", func(t *testing.T) {
			c := newClient(t, ts.URL)
			c.get("/login")
			resp, doc := c.post("/login", url.Values{"email": {"ann@example.com"}, "password": {userPassword}})
			if resp.StatusCode != http.StatusForbidden || cookieNamed(resp, "mergedesk_session") != nil {
				t.Fatalf("got %d (cookie %v), want 403 and no session", resp.StatusCode, cookieNamed(resp, "mergedesk_session"))
			}
			if got := text(query(doc, "#error")); !strings.Contains(got, "Only agents and admins") {
				t.Errorf("error: got %q", got)
			}
		})
		t.Run("ErrMissingFormToken", func(t *testing.T) {
			c := newClient(t, ts.URL)
			c.get("/login")
			resp, _ := c.post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "csrf_token": {"forged"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.StatusCode)
			}
		})
		t.Run("ErrCrossOrigin", func(t *testing.T) {
			c := newClient(t, ts.URL)
			c.get("/login")
			resp, _ := c.post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}}, "Sec-Fetch-Site", "cross-site")
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.StatusCode)
			}
			resp, _ = c.post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}}, "Origin", "https://evil.example")
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("with a foreign Origin: got %d, want 403", resp.StatusCode)
			}
		})
	})
}

func TestLoginLockout(t *testing.T) {
	f, s, ts := setup(t)
	_ = f
	now := time.Now()
	s.Limiter.Now = func() time.Time { return now }
	c := newClient(t, ts.URL)
	c.get("/login")
	for i := range 5 {
		resp, _ := c.post("/login", url.Values{"email": {agentEmail}, "password": {fmt.Sprint("guess", i)}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp, doc := c.post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures, the right password: got %d, want 429 with Retry-After", resp.StatusCode)
	}
	if got := text(query(doc, "#error")); !strings.Contains(got, "Too many failed sign-in attempts") {
		t.Errorf("error: got %q", got)
	}
	// Another account from the same address is not locked by this email's failures.
	other := newClient(t, ts.URL)
	other.login(adminEmail, adminPassword)

	now = now.Add(16 * time.Minute)
	c.login(agentEmail, agentPassword)

	t.Run("PerIP", func(t *testing.T) {
		if s.Limiter.MaxPerAddress != authlimit.DefaultMaxPerAddress || authlimit.DefaultMaxPerAddress != 20 {
			t.Fatalf("per-address limit %d, want 20", s.Limiter.MaxPerAddress)
		}
		s.Limiter.MaxPerAddress = 7 // each failure costs a PBKDF2 check; keep the test short
		c := newClient(t, ts.URL)
		c.get("/login")
		for i := range 7 {
			c.post("/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"x"}})
		}
		resp, _ := c.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("after 7 failures from one address: got %d, want 429", resp.StatusCode)
		}
		now = now.Add(16 * time.Minute)
		c.login(adminEmail, adminPassword)
	})
}

func TestSecureCookieOverTLS(t *testing.T) {
	f, s, _ := setup(t)
	_ = f
	ts := httptest.NewTLSServer(s)
	defer ts.Close()
	c := newClient(t, ts.URL)
	c.http.Transport = ts.Client().Transport
	c.get("/login")
	resp, _ := c.post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}})
	ck := cookieNamed(resp, "mergedesk_session")
	if ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Fatalf("session cookie over TLS: %+v, want Secure and HttpOnly", ck)
	}
}

func TestAuthRequired(t *testing.T) {
	f, _, ts := setup(t)
	c := newClient(t, ts.URL)
	for _, path := range []string{"/", "/customers", fmt.Sprintf("/users/%d", f.Ann.ID), "/tickets", "/organizations"} {
		resp, _ := c.get(path)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s signed out: got %d to %q, want 303 to /login", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, _ := c.get("/customers?q=ann", "HX-Request", "true")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), "/login") {
		t.Errorf("htmx request signed out: got %d, HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
	resp, _ = c.post(fmt.Sprintf("/users/%d/merge", f.AnnDup.ID), url.Values{"target": {fmt.Sprint(f.Ann.ID)}, "version": {"x"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST signed out: got %d, want 401", resp.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	f, _, ts := setup(t)
	c := agentClient(t, ts.URL)
	path := fmt.Sprintf("/users/%d/profile", f.Bob.ID)
	for name, form := range map[string]url.Values{
		"Missing": {"name": {"Robert"}, "csrf_token": {""}},
		"Wrong":   {"name": {"Robert"}, "csrf_token": {"not-the-token"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, _ := c.post(path, form)
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %d, want 403", resp.StatusCode)
			}
		})
	}
	t.Run("CrossSite", func(t *testing.T) {
		resp, _ := c.post(path, url.Values{"name": {"Robert"}}, "Sec-Fetch-Site", "cross-site")
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("got %d, want 403", resp.StatusCode)
		}
	})
	u, _ := f.DB.User(context.Background(), f.Bob.ID)
	if u.Name != "Bob Stone" {
		t.Fatalf("name changed to %q by a refused request", u.Name)
	}
	t.Run("HeaderToken", func(t *testing.T) {
		resp, _ := c.post(path, url.Values{"name": {"Robert Stone"}, "csrf_token": {""}}, "X-CSRF-Token", c.csrf)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("with X-CSRF-Token: got %d, want 303", resp.StatusCode)
		}
	})
}

func TestLogout(t *testing.T) {
	_, _, ts := setup(t)
	c := agentClient(t, ts.URL)
	u, _ := url.Parse(ts.URL)
	old := c.http.Jar.Cookies(u)
	resp, _ := c.post("/logout", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: got %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := c.get("/customers"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: got %d, want 303 to /login", resp.StatusCode)
	}
	// The old cookie no longer works: the session is gone on the server too.
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, old)
	replay := newClient(t, ts.URL)
	replay.http.Jar = jar
	if resp, _ := replay.get("/customers"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("replayed cookie after logout: got %d, want 303", resp.StatusCode)
	}
}

func TestSessionStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		agent := mustUser(t, db, mergedesk.NewUser{Name: "Sam", Role: mergedesk.RoleAgent, Email: "sam@x.example", Password: "pw-123456"})
		token, s, err := db.CreateSession(ctx, agent.ID, time.Hour, "test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.SessionByToken(ctx, token)
		if err != nil || got == nil {
			t.Fatalf("SessionByToken: %v, %v", got, err)
		}
		if got.UserID != agent.ID || got.Role != mergedesk.RoleAgent || got.CSRFToken != s.CSRFToken || got.CSRFToken == "" {
			t.Errorf("got %+v, want user %d, agent, csrf %q", got, agent.ID, s.CSRFToken)
		}
		if got, _ := db.SessionByToken(ctx, token+"x"); got != nil {
			t.Error("a wrong token found a session")
		}
		// Suspending the user ends the session.
		if _, err := db.UpdateUser(ctx, agent.ID, mergedesk.UserUpdate{Suspended: ptr(true)}, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.SessionByToken(ctx, token); got != nil {
			t.Error("session of a suspended user still valid")
		}
		if _, err := db.UpdateUser(ctx, agent.ID, mergedesk.UserUpdate{Suspended: ptr(false)}, nil); err != nil {
			t.Fatal(err)
		}
		// Expiry.
		now := db.Now
		db.Now = func() time.Time { return now().Add(2 * time.Hour) }
		if got, _ := db.SessionByToken(ctx, token); got != nil {
			t.Error("expired session still valid")
		}
		db.Now = now
		if err := db.DeleteSession(ctx, token); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.SessionByToken(ctx, token); got != nil {
			t.Error("deleted session still valid")
		}
	})
}

func TestCustomers(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		c := agentClient(t, ts.URL)
		_, doc := c.get("/customers")
		if got := text(query(doc, `nav.sidebar a[aria-current="page"]`)); got != "Customers" {
			t.Errorf("current sidebar entry: got %q, want Customers", got)
		}
		if labels := texts(queryAll(doc, "nav.sidebar a")); !slices.Equal(labels, []string{"Customers", "Tickets", "Organizations"}) {
			t.Errorf("sidebar: got %q", labels)
		}
		names := texts(queryAll(doc, "table.customers tbody tr td a"))
		if slices.Contains(names, "Sam Agent") || !slices.Contains(names, "Bob Stone") {
			t.Errorf("customer list: got %q; want end users only", names)
		}
		for _, tc := range []struct {
			name, q string
			want    []int64
		}{
			{"Name", "ann lee", []int64{f.Ann.ID, f.AnnDup.ID}},
			{"NamePrefix", "Bo", []int64{f.Bob.ID}},
			{"Email", "ann.lee@corp.example", []int64{f.AnnDup.ID}},
			{"Phone", "(415) 555-0101", []int64{f.Ann.ID}},
			{"PhoneE164", "+14155550199", []int64{f.PhoneOnly.ID}},
			{"NoMatch", "zzzz", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, doc := c.get("/customers?q=" + url.QueryEscape(tc.q))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d", resp.StatusCode)
				}
				var got []int64
				for _, tr := range queryAll(doc, "table.customers tbody tr") {
					v, _ := attr(tr, "data-user")
					var id int64
					fmt.Sscan(v, &id)
					got = append(got, id)
				}
				slices.Sort(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("q=%q: got users %v, want %v", tc.q, got, tc.want)
				}
			})
		}
		t.Run("Fragment", func(t *testing.T) {
			_, doc := c.get("/customers?q=bob", "HX-Request", "true")
			if query(doc, "nav.sidebar") != nil || query(doc, "table.customers") == nil {
				t.Error("htmx request: want the results fragment only")
			}
			if in := mustQuery(t, doc, "body"); in == nil {
				t.Fatal()
			}
			_, page := c.get("/customers")
			input := mustQuery(t, page, "input#customer-q")
			if v, _ := attr(input, "hx-get"); v != "/customers" {
				t.Errorf("search input hx-get: %q", v)
			}
			if v, _ := attr(input, "hx-trigger"); !strings.Contains(v, "delay:") {
				t.Errorf("search input hx-trigger: %q, want a delay", v)
			}
		})
		t.Run("Paging", func(t *testing.T) {
			for i := range 30 {
				mustUser(t, f.DB, mergedesk.NewUser{Name: fmt.Sprintf("Pager %02d", i), Email: fmt.Sprintf("pager%d@example.com", i)})
			}
			_, doc := c.get("/customers?q=pager")
			if n := len(queryAll(doc, "table.customers tbody tr")); n != 25 {
				t.Errorf("page 1: %d rows, want 25", n)
			}
			next := mustQuery(t, doc, `a[rel=next]`)
			href, _ := attr(next, "href")
			_, doc = c.get(href)
			if n := len(queryAll(doc, "table.customers tbody tr")); n != 5 {
				t.Errorf("page 2 (%s): %d rows, want 5", href, n)
			}
			if query(doc, `a[rel=prev]`) == nil {
				t.Error("page 2 has no link to page 1")
			}
		})
	})
}

func TestProfile(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		c := agentClient(t, ts.URL)
		_, doc := c.get(fmt.Sprintf("/users/%d", f.Ann.ID))
		if got := text(query(doc, "h1#user-name")); got != "Ann Lee" {
			t.Errorf("name: %q", got)
		}
		emails := queryAll(doc, `.identity-group[data-type=email] li`)
		if len(emails) != 2 {
			t.Fatalf("email identities: %q", texts(emails))
		}
		if got := text(emails[0]); got != "ann@example.com primary verified" {
			t.Errorf("first email: got %q, want the primary, verified", got)
		}
		if got := text(emails[1]); got != "ann.work@example.com verified" {
			t.Errorf("second email: got %q", got)
		}
		if got := text(query(doc, `.identity-group[data-type=phone_number] li`)); got != "+1 415 555 0101 primary verified" {
			t.Errorf("phone: %q", got)
		}
		if got := text(query(doc, `.identity-group[data-type=twitter] h3`)); got != "X (Twitter)" {
			t.Errorf("twitter group label: %q", got)
		}
		for sel, want := range map[string]string{
			"#organizations": "Acme Corp (default)", "#tags": "vip", "#details": "Key account", "#notes": "Prefers phone", "dd.user-field": "gold",
			"#requested-h .count": "(2)", "#ccd-h .count": "(0)",
		} {
			if got := text(query(doc, sel)); got != want {
				t.Errorf("%s: got %q, want %q", sel, got, want)
			}
		}
		statuses := texts(queryAll(doc, "#requested table.tickets tbody tr td .status"))
		slices.Sort(statuses)
		if !slices.Equal(statuses, []string{"open", "solved"}) {
			t.Errorf("requested ticket statuses: %q", statuses)
		}
		if got := text(query(doc, "button#user-options")); got != "User options" {
			t.Errorf("User options button: %q", got)
		}
		if got := text(query(doc, `#user-options-menu [role=menuitem]`)); got != "Merge into another user" {
			t.Errorf("menu item: %q", got)
		}
		if query(doc, "dialog#merge-dialog") == nil {
			t.Error("no <dialog> for the merge")
		}

		_, doc = c.get(fmt.Sprintf("/users/%d", f.AnnDup.ID))
		if got := text(query(doc, "#ccd table.tickets tbody tr td a")); got != fmt.Sprint(f.BobTkt.ID) {
			t.Errorf("CC'd tickets of the duplicate: got %q, want ticket %d", got, f.BobTkt.ID)
		}

		t.Run("MergedUser", func(t *testing.T) {
			if _, _, err := f.DB.MergeUsers(context.Background(), f.AnnDup.ID, f.Ann.ID, f.Agent.ID, ""); err != nil {
				t.Fatal(err)
			}
			_, doc := c.get(fmt.Sprintf("/users/%d", f.AnnDup.ID))
			link := mustQuery(t, doc, ".merged-into a")
			if href, _ := attr(link, "href"); href != fmt.Sprintf("/users/%d", f.Ann.ID) {
				t.Errorf("merged-into link: %q", href)
			}
			if query(doc, "button#user-options") != nil {
				t.Error("a merged-away user still offers User options")
			}
		})
	})
}

func TestEditProfile(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		c := agentClient(t, ts.URL)
		path := fmt.Sprintf("/users/%d", f.Bob.ID)
		t.Run("OK", func(t *testing.T) {
			resp, _ := c.post(path+"/profile", url.Values{"name": {"Robert Stone"}, "tags": {"gold, west"}, "details": {"d"}, "notes": {"n"}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d, want 303", resp.StatusCode)
			}
			_, doc := c.get(path)
			if got := text(query(doc, "h1#user-name")); got != "Robert Stone" {
				t.Errorf("name: %q", got)
			}
			if got := text(query(doc, "#tags")); got != "gold west" {
				t.Errorf("tags: %q", got)
			}
		})
		t.Run("ErrBlankName", func(t *testing.T) {
			resp, doc := c.post(path+"/profile", url.Values{"name": {"  "}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("got %d, want 422", resp.StatusCode)
			}
			if got := text(query(doc, "#profile-error")); !strings.Contains(got, "blank") {
				t.Errorf("inline error: %q", got)
			}
			if _, open := attr(mustQuery(t, doc, "details#edit-profile"), "open"); !open {
				t.Error("the edit form is closed after an error")
			}
		})
		t.Run("AddIdentity", func(t *testing.T) {
			resp, _ := c.post(path+"/identities", url.Values{"type": {"email"}, "value": {"bob.second@example.com"}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("got %d, want 303", resp.StatusCode)
			}
			_, doc := c.get(path)
			if got := texts(queryAll(doc, `.identity-group[data-type=email] li .value`)); !slices.Contains(got, "bob.second@example.com") {
				t.Errorf("emails: %q", got)
			}
		})
		t.Run("ErrDuplicateValue", func(t *testing.T) {
			resp, doc := c.post(path+"/identities", url.Values{"type": {"email"}, "value": {"ANN@example.com"}})
			if resp.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("got %d, want 422", resp.StatusCode)
			}
			if got := text(query(doc, "#identity-error")); !strings.Contains(got, "already being used by another user") {
				t.Errorf("inline error: %q", got)
			}
			if v, _ := attr(mustQuery(t, doc, "input#identity-value"), "value"); v != "ANN@example.com" {
				t.Errorf("the form lost the typed value: %q", v)
			}
		})
	})
}

func TestTicketPage(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		c := agentClient(t, ts.URL)
		if _, _, err := f.DB.MergeUsers(context.Background(), f.AnnDup.ID, f.Ann.ID, f.Agent.ID, ""); err != nil {
			t.Fatal(err)
		}
		_, doc := c.get(fmt.Sprintf("/tickets/%d", f.DupTicket.ID))
		link := mustQuery(t, doc, "#requester a")
		if href, _ := attr(link, "href"); href != fmt.Sprintf("/users/%d", f.Ann.ID) || text(link) != "Ann Lee" {
			t.Errorf("requester link: %q %q", href, text(link))
		}
		if got := text(query(doc, "#ticket-status")); got != "pending" {
			t.Errorf("status: %q", got)
		}
		if got := text(query(doc, ".comment .body")); !strings.Contains(got, "Invoice question") {
			t.Errorf("comment: %q", got)
		}
		merge := mustQuery(t, doc, "li.audit-merge")
		if got := text(query(merge, "header")); !strings.Contains(got, "Sam Agent") || !strings.Contains(got, "via user merge") {
			t.Errorf("merge audit header: %q", got)
		}
		if got := text(query(merge, "li.event-Change")); got != "Requester changed from Ann Lee to Ann Lee" {
			t.Errorf("merge event: %q", got)
		}
		hrefs := []string{}
		for _, a := range queryAll(merge, "li.event-Change a") {
			h, _ := attr(a, "href")
			hrefs = append(hrefs, h)
		}
		if want := []string{fmt.Sprintf("/users/%d", f.AnnDup.ID), fmt.Sprintf("/users/%d", f.Ann.ID)}; !slices.Equal(hrefs, want) {
			t.Errorf("merge event links: %q, want %q", hrefs, want)
		}

		_, doc = c.get(fmt.Sprintf("/tickets/%d", f.BobTkt.ID))
		if got := text(query(doc, "#ccs")); got != "Ann Lee" {
			t.Errorf("CCs after the merge: %q", got)
		}
		if got := text(query(doc, "li.audit-merge li.event-EmailCcChange")); got != "CCs changed from Ann Lee to Ann Lee" {
			t.Errorf("CC event: %q", got)
		}
		_, doc = c.get("/tickets")
		if n := len(queryAll(doc, "table.tickets tbody tr")); n != 4 {
			t.Errorf("ticket list: %d rows, want 4", n)
		}
	})
}

func TestOrganizations(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		c := agentClient(t, ts.URL)
		_, doc := c.get("/organizations")
		link := mustQuery(t, doc, "ul.orgs a")
		if text(link) != "Acme Corp" {
			t.Fatalf("organizations: %q", text(link))
		}
		href, _ := attr(link, "href")
		_, doc = c.get(href)
		if got := texts(queryAll(doc, "table.customers tbody tr td a")); !slices.Equal(got, []string{"Ann Lee"}) {
			t.Errorf("members: %q", got)
		}
		total := 0
		groups := map[string]int{}
		for _, g := range queryAll(doc, "section.status-group") {
			st, _ := attr(g, "data-status")
			n := len(queryAll(g, "table.tickets tbody tr"))
			groups[st] = n
			total += n
			if got, want := text(query(g, "h3 .count")), fmt.Sprintf("(%d)", n); got != want {
				t.Errorf("%s count: got %s, want %s", st, got, want)
			}
		}
		if got := text(query(doc, "#org-tickets-h .count")); got != fmt.Sprintf("(%d)", total) || total < 2 {
			t.Errorf("ticket total %s, groups %v", got, groups)
		}
		if groups["solved"] != 1 {
			t.Errorf("solved group: %v", groups)
		}
	})
}

func TestMergeFlow(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		ctx := context.Background()
		c := agentClient(t, ts.URL)
		base := fmt.Sprintf("/users/%d/merge", f.AnnDup.ID)

		t.Run("Candidates", func(t *testing.T) {
			_, doc := c.get(base+"/candidates?q=ann", "HX-Request", "true")
			byID := map[string]*html.Node{}
			for _, li := range queryAll(doc, "li.candidate") {
				id, _ := attr(li, "data-user")
				byID[id] = li
			}
			if _, self := byID[fmt.Sprint(f.AnnDup.ID)]; self {
				t.Error("the source lists itself")
			}
			ann := byID[fmt.Sprint(f.Ann.ID)]
			if ann == nil {
				t.Fatalf("Ann is not a candidate; got %v", texts(queryAll(doc, "li.candidate")))
			}
			if got := texts(queryAll(ann, ".email")); !slices.Equal(got, []string{"ann@example.com", "ann.work@example.com"}) {
				t.Errorf("Ann's emails: %q", got)
			}
			if got := text(query(ann, ".cand-handles")); got != "X (Twitter): annlee" {
				t.Errorf("Ann's other handles: %q", got)
			}
			if got := text(query(ann, ".cand-orgs")); got != "Acme Corp" {
				t.Errorf("Ann's organization: %q", got)
			}
			if v, _ := attr(query(ann, "input[type=radio]"), "data-eligible"); v != "true" {
				t.Errorf("Ann eligible: %q", v)
			}
			caller := byID[fmt.Sprint(f.PhoneOnly.ID)]
			if caller == nil {
				t.Fatal("the phone-only Ann is not listed")
			}
			if v, _ := attr(query(caller, "input[type=radio]"), "data-eligible"); v != "false" {
				t.Errorf("phone-only eligible: %q", v)
			}
			if got := text(query(caller, ".reason")); !strings.Contains(got, "no verified identity and no email address or X (Twitter) handle") {
				t.Errorf("reason: %q", got)
			}
			_, doc = c.get(fmt.Sprintf("/users/%d/merge/candidates?q=sam", f.AnnDup.ID), "HX-Request", "true")
			if got := text(query(doc, "li.candidate .reason")); !strings.Contains(got, "Sam Agent is an agent or admin") {
				t.Errorf("agent reason: %q", got)
			}
		})

		t.Run("IneligiblePreview", func(t *testing.T) {
			_, doc := c.get(fmt.Sprintf("%s/preview?target=%d", base, f.PhoneOnly.ID), "HX-Request", "true")
			if query(doc, "#preview-blockers") == nil || query(doc, "#confirm-merge") != nil {
				t.Error("an ineligible preview must show blockers and no Confirm and merge")
			}
			resp, _ := c.post(base, url.Values{"target": {fmt.Sprint(f.PhoneOnly.ID)}, "version": {"whatever"}})
			if resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusConflict {
				t.Errorf("merge into an ineligible target: got %d", resp.StatusCode)
			}
			if u, _ := f.DB.User(ctx, f.AnnDup.ID); !u.Active {
				t.Fatal("source merged")
			}
		})

		var version string
		t.Run("Preview", func(t *testing.T) {
			_, doc := c.get(fmt.Sprintf("%s/preview?target=%d", base, f.Ann.ID), "HX-Request", "true")
			if got := text(mustQuery(t, doc, "button#confirm-merge")); got != "Confirm and merge" {
				t.Errorf("confirm button: %q", got)
			}
			version, _ = attr(mustQuery(t, doc, "input[name=version]"), "value")
			if got := text(query(doc, "#preview-tickets")); !strings.Contains(got, "1 ticket requested by Ann Lee moves") || !strings.Contains(got, "1 ticket changes its CCs") {
				t.Errorf("ticket summary: %q", got)
			}
			if got := text(query(doc, "#preview-added tr[data-field=emails] td")); got != "ann.lee@corp.example" {
				t.Errorf("emails added: %q", got)
			}
			if got := text(query(doc, "#preview-lost tr[data-field=tags] td")); got != "trial" {
				t.Errorf("tags lost: %q", got)
			}
			if u, _ := f.DB.User(ctx, f.AnnDup.ID); !u.Active {
				t.Fatal("the preview changed something")
			}
		})

		t.Run("ErrStale", func(t *testing.T) {
			if _, err := f.DB.AddIdentity(ctx, f.AnnDup.ID, mergedesk.NewIdentity{Type: "email", Value: "late@example.com"}, nil); err != nil {
				t.Fatal(err)
			}
			resp, doc := c.post(base, url.Values{"target": {fmt.Sprint(f.Ann.ID)}, "version": {version}}, "HX-Request", "true")
			if resp.StatusCode != http.StatusOK || query(doc, "#preview-stale") == nil {
				t.Fatalf("stale merge: got %d, stale notice %v", resp.StatusCode, query(doc, "#preview-stale") != nil)
			}
			fresh, _ := attr(mustQuery(t, doc, "input[name=version]"), "value")
			if fresh == version {
				t.Error("the re-preview kept the old version")
			}
			if u, _ := f.DB.User(ctx, f.AnnDup.ID); !u.Active {
				t.Fatal("a stale merge went through")
			}
			version = fresh
		})

		t.Run("OK", func(t *testing.T) {
			resp, _ := c.post(base, url.Values{"target": {fmt.Sprint(f.Ann.ID)}, "version": {version}}, "HX-Request", "true")
			want := fmt.Sprintf("/users/%d?merged=%d", f.Ann.ID, f.AnnDup.ID)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("HX-Redirect") != want {
				t.Fatalf("merge: got %d, HX-Redirect %q; want 204 to %s", resp.StatusCode, resp.Header.Get("HX-Redirect"), want)
			}
			_, doc := c.get(want)
			if got := text(query(doc, "#notice")); !strings.Contains(got, "Ann Lee was merged into Ann Lee") {
				t.Errorf("notice: %q", got)
			}
			var found bool
			for _, a := range queryAll(doc, "#requested table.tickets a") {
				if text(a) == "Invoice question" {
					found = true
				}
			}
			if !found {
				t.Error("the moved ticket is not on the target's profile")
			}
			if got := texts(queryAll(doc, `.identity-group[data-type=email] li .value`)); !slices.Contains(got, "late@example.com") {
				t.Errorf("moved emails: %q", got)
			}
		})
	})
}

func TestEscaping(t *testing.T) {
	f, _, ts := setup(t)
	c := agentClient(t, ts.URL)
	for _, path := range []string{fmt.Sprintf("/users/%d", f.Scripty.ID), "/customers?q=xss%40example.com",
		fmt.Sprintf("/users/%d/merge/candidates?q=script", f.Bob.ID)} {
		_, doc := c.get(path)
		for _, s := range queryAll(doc, "script") {
			if src, ok := attr(s, "src"); !ok || !strings.HasPrefix(src, "/static/") {
				t.Errorf("%s: a script element that is not ours: %q", path, text(s))
			}
		}
		found := false
		for _, sel := range []string{"h1#user-name", "table.customers td a", ".cand-name"} {
			if got := text(query(doc, sel)); got == `<script>alert(1)</script>` {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the name is not shown as text", path)
		}
	}
}

// TestHTMLQuality checks every main page for lang, charset, the viewport, labels
// on inputs and that nothing is loaded from another origin.
func TestHTMLQuality(t *testing.T) {
	f, _, ts := setup(t)
	c := agentClient(t, ts.URL)
	pages := []string{"/login", "/customers", "/tickets", "/organizations", fmt.Sprintf("/organizations/%d", f.Acme.ID),
		fmt.Sprintf("/users/%d", f.Ann.ID), fmt.Sprintf("/tickets/%d", f.BobTkt.ID)}
	for _, p := range pages {
		t.Run(strings.ReplaceAll(p, "/", "_"), func(t *testing.T) {
			cl := c
			if p == "/login" {
				cl = newClient(t, ts.URL)
			}
			resp, doc := cl.get(p)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if lang, _ := attr(mustQuery(t, doc, "html"), "lang"); lang != "en" {
				t.Errorf("lang %q", lang)
			}
			if query(doc, "meta[charset]") == nil || query(doc, "meta[name=viewport]") == nil {
				t.Error("no charset or viewport meta")
			}
			if n := len(queryAll(doc, "h1")); n != 1 {
				t.Errorf("%d h1 elements", n)
			}
			labels := map[string]bool{}
			for _, l := range queryAll(doc, "label[for]") {
				v, _ := attr(l, "for")
				labels[v] = true
			}
			for _, tag := range []string{"input", "select", "textarea"} {
				for _, in := range queryAll(doc, tag) {
					typ, _ := attr(in, "type")
					if typ == "hidden" || typ == "radio" {
						continue
					}
					id, _ := attr(in, "id")
					if _, aria := attr(in, "aria-label"); !labels[id] && !aria {
						name, _ := attr(in, "name")
						t.Errorf("%s name=%q has no label", tag, name)
					}
				}
			}
			for _, sel := range []string{"script[src]", "link[href]", "img[src]", "a[href]", "form[action]"} {
				for _, n := range queryAll(doc, sel) {
					for _, a := range []string{"src", "href", "action"} {
						if v, ok := attr(n, a); ok && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "#") {
							t.Errorf("%s %s=%q leaves the site", n.Data, a, v)
						}
					}
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	_, _, ts := setup(t)
	c := newClient(t, ts.URL)
	resp, err := c.http.Get(ts.URL + "/static/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(body)
	want, err := os.ReadFile("static/htmx.min.js.sha256")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h[:]); !strings.HasPrefix(string(want), got) {
		t.Errorf("served htmx.min.js has sha256 %s; the pinned checksum file says %s", got, strings.Fields(string(want))[0])
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("content type %q", ct)
	}
	if resp, _ := c.get("/static/nope.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown asset: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/no/such/page"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown page: %d", resp.StatusCode)
	}
}

// TestLoginOpenRedirect signs in with next pointing elsewhere: the answer must
// stay on this site whatever the browser makes of the Location header.
func TestLoginOpenRedirect(t *testing.T) {
	_, _, ts := setup(t)
	for _, next := range []string{"/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/"} {
		c := newClient(t, ts.URL)
		c.get("/login")
		resp, _ := c.post("/login", url.Values{"email": {agentEmail}, "password": {agentPassword}, "next": {next}})
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != "/customers" {
			t.Errorf("next=%q: got %d to %q, want 303 to /customers", next, resp.StatusCode, got)
		}
		// Signed in, GET /login?next=… redirects too.
		resp, _ = c.get("/login?next=" + url.QueryEscape(next))
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != "/customers" {
			t.Errorf("GET /login?next=%q signed in: got %d to %q, want 303 to /customers", next, resp.StatusCode, got)
		}
	}
}

// TestSecureCookieBehindProxy: TLS ends at a proxy that forwards plain HTTP, and
// --base-url says https. Every cookie must still be Secure.
func TestSecureCookieBehindProxy(t *testing.T) {
	_, s, ts := setup(t)
	s.BaseURL = "https://desk.example"
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request) *http.Response {
		t.Helper()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	checkSecure := func(resp *http.Response, name string) *http.Cookie {
		t.Helper()
		ck := cookieNamed(resp, name)
		if ck == nil {
			t.Fatalf("no %s cookie", name)
		}
		if !ck.Secure || !ck.HttpOnly {
			t.Errorf("%s cookie behind a TLS proxy: Secure=%v HttpOnly=%v, want both", name, ck.Secure, ck.HttpOnly)
		}
		return ck
	}
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/login", nil)
	formCk := checkSecure(do(req), "mergedesk_login_csrf")

	form := url.Values{"email": {agentEmail}, "password": {agentPassword}, "csrf_token": {formCk.Value}}
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(formCk)
	resp := do(req)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: got %d, want 303", resp.StatusCode)
	}
	sess := checkSecure(resp, "mergedesk_session")

	// A failed sign-in re-renders the form with a new token cookie.
	form.Set("password", "wrong password")
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(formCk)
	checkSecure(do(req), "mergedesk_login_csrf")

	// Signing out clears the session with a Secure cookie as well.
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/customers", nil)
	req.AddCookie(sess)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := html.Parse(resp.Body)
	resp.Body.Close()
	csrf, _ := attr(mustQuery(t, doc, "input[name=csrf_token]"), "value")
	req, _ = http.NewRequest(http.MethodPost, ts.URL+"/logout", strings.NewReader(url.Values{"csrf_token": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(sess)
	checkSecure(do(req), "mergedesk_session")
}

// TestDatabaseUnavailable: a database that does not answer shows a 503 page
// with Retry-After, not "Internal error".
func TestDatabaseUnavailable(t *testing.T) {
	db := storetest.MustOpen(t, "sqlite:"+t.TempDir()+"/ui.db")
	newFixture(t, db)
	_, ts := newServer(t, db)
	c := agentClient(t, ts.URL)
	db.Close()
	resp, _ := c.get("/customers")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("database closed: got %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
