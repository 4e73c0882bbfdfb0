package ui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
	"github.com/mergedesk/mergedesk/internal/web/ui"
)

const (
	agentEmail    = "sam.agent@helpdesk.example"
	agentPassword = "agent-password-1"
	adminEmail    = "ada.admin@helpdesk.example"
	adminPassword = "admin-password-1"
	userPassword  = "end-user-password-1"
)

// fixture is a small help desk: staff, customers with a duplicate, an
// unmergeable user, an organization and tickets with CCs.
type fixture struct {
	DB                 *store.DB
	Agent, Admin       *mergedesk.User
	Ann, AnnDup, Bob   *mergedesk.User
	PhoneOnly, Scripty *mergedesk.User
	Acme               *mergedesk.Organization
	AnnTicket, BobTkt  *mergedesk.Ticket // BobTkt has Ann's duplicate as CC
	DupTicket          *mergedesk.Ticket // requested by AnnDup
}

func ptr[T any](v T) *T { return &v }

func mustUser(tb testing.TB, db *store.DB, nu mergedesk.NewUser) *mergedesk.User {
	tb.Helper()
	u, err := db.CreateUser(context.Background(), nu)
	if err != nil {
		tb.Fatalf("create user %q: %v", nu.Name, err)
	}
	return u
}

func mustTicket(tb testing.TB, db *store.DB, actor int64, in mergedesk.TicketInput) *mergedesk.Ticket {
	tb.Helper()
	if in.Comment == nil {
		in.Comment = &mergedesk.CommentInput{Body: "Hello, I need help with " + deref(in.Subject)}
	}
	t, _, err := db.CreateTicket(context.Background(), in, mergedesk.TicketWriter{ActorID: actor, Via: mergedesk.NewVia("web")})
	if err != nil {
		tb.Fatalf("create ticket: %v", err)
	}
	return t
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func newFixture(tb testing.TB, db *store.DB) *fixture {
	tb.Helper()
	ctx := context.Background()
	f := &fixture{DB: db}
	f.Admin = mustUser(tb, db, mergedesk.NewUser{Name: "Ada Admin", Role: mergedesk.RoleAdmin, Email: adminEmail, Verified: true, Password: adminPassword})
	f.Agent = mustUser(tb, db, mergedesk.NewUser{Name: "Sam Agent", Role: mergedesk.RoleAgent, Email: agentEmail, Verified: true, Password: agentPassword})
	org, err := db.CreateOrganization(ctx, mergedesk.OrganizationWrite{Name: ptr("Acme Corp")})
	if err != nil {
		tb.Fatal(err)
	}
	f.Acme = org
	f.Ann = mustUser(tb, db, mergedesk.NewUser{Name: "Ann Lee", Email: "ann@example.com", Phone: "+14155550101", Verified: true,
		Tags: []string{"vip"}, Notes: ptr("Prefers phone"), Details: ptr("Key account"), OrganizationID: &org.ID,
		UserFields: map[string]any{"plan": "gold"}, Password: userPassword,
		Identities: []mergedesk.NewIdentity{{Type: mergedesk.IdentityEmail, Value: "ann.work@example.com"}, {Type: mergedesk.IdentityTwitter, Value: "annlee"}}})
	f.AnnDup = mustUser(tb, db, mergedesk.NewUser{Name: "Ann Lee", Email: "ann.lee@corp.example", Tags: []string{"trial"}, Notes: ptr("Came by chat")})
	f.Bob = mustUser(tb, db, mergedesk.NewUser{Name: "Bob Stone", Email: "bob@example.com", Verified: true})
	f.PhoneOnly = mustUser(tb, db, mergedesk.NewUser{Name: "Ann Caller", Phone: "+14155550199"})
	f.Scripty = mustUser(tb, db, mergedesk.NewUser{Name: `<script>alert(1)</script>`, Email: "xss@example.com", Verified: true})
	f.AnnTicket = mustTicket(tb, db, f.Agent.ID, mergedesk.TicketInput{Subject: ptr("Printer on fire"), RequesterID: &f.Ann.ID, Status: ptr("open")})
	f.DupTicket = mustTicket(tb, db, f.Agent.ID, mergedesk.TicketInput{Subject: ptr("Invoice question"), RequesterID: &f.AnnDup.ID, Status: ptr("pending")})
	f.BobTkt = mustTicket(tb, db, f.Agent.ID, mergedesk.TicketInput{Subject: ptr("Shared outage"), RequesterID: &f.Bob.ID,
		Collaborators: &[]mergedesk.CCRef{{UserID: f.AnnDup.ID}}})
	mustTicket(tb, db, f.Agent.ID, mergedesk.TicketInput{Subject: ptr("Acme solved thing"), RequesterID: &f.Ann.ID, Status: ptr("solved"), OrganizationID: ptr(&org.ID)})
	return f
}

// newServer starts the UI over a fresh database of the given DSN.
func newServer(tb testing.TB, db *store.DB) (*ui.Server, *httptest.Server) {
	tb.Helper()
	s, err := ui.New(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return s, ts
}

// setup is one database (SQLite) with the fixture and a running UI.
func setup(tb testing.TB) (*fixture, *ui.Server, *httptest.Server) {
	tb.Helper()
	db := storetest.MustOpen(tb, "sqlite:"+tb.TempDir()+"/ui.db")
	f := newFixture(tb, db)
	s, ts := newServer(tb, db)
	return f, s, ts
}

// client is a browser stand-in: a cookie jar, no redirects followed, and the
// CSRF token of the last page it read.
type client struct {
	tb   testing.TB
	base string
	http *http.Client
	csrf string
}

func newClient(tb testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{tb: tb, base: base, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *client) do(req *http.Request) (*http.Response, *html.Node) {
	c.tb.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	doc, err := html.Parse(strings.NewReader(string(b)))
	if err != nil {
		c.tb.Fatalf("%s %s: parse HTML: %v", req.Method, req.URL, err)
	}
	return resp, doc
}

func (c *client) get(path string, headers ...string) (*http.Response, *html.Node) {
	c.tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// post sends a form with the current CSRF token unless form sets csrf_token.
func (c *client) post(path string, form url.Values, headers ...string) (*http.Response, *html.Node) {
	c.tb.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// login signs in and fails the test unless it lands on a page.
func (c *client) login(email, password string) {
	c.tb.Helper()
	c.get("/login")
	resp, _ := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		c.tb.Fatalf("login %s: status %d, want 303", email, resp.StatusCode)
	}
	c.get("/customers") // picks up the session's CSRF token
}

func agentClient(tb testing.TB, base string) *client {
	c := newClient(tb, base)
	c.login(agentEmail, agentPassword)
	return c
}

// --- a small CSS selector engine over x/net/html, enough for the tests:
// descendant combinators of compound selectors made of tag, #id, .class,
// [attr] and [attr=value].

type simpleSel struct {
	tag, id string
	classes []string
	attrs   [][2]string // name, value ("" with has=true means presence)
	has     []bool
}

var selPart = regexp.MustCompile(`([#.]?[A-Za-z0-9_-]+|\[[^\]]+\])`)

func parseSel(s string) []simpleSel {
	var out []simpleSel
	for _, part := range strings.Fields(s) {
		var ss simpleSel
		for _, m := range selPart.FindAllString(part, -1) {
			switch {
			case m[0] == '#':
				ss.id = m[1:]
			case m[0] == '.':
				ss.classes = append(ss.classes, m[1:])
			case m[0] == '[':
				inner := m[1 : len(m)-1]
				name, val, ok := strings.Cut(inner, "=")
				ss.attrs = append(ss.attrs, [2]string{name, strings.Trim(val, `"'`)})
				ss.has = append(ss.has, !ok)
			default:
				ss.tag = m
			}
		}
		out = append(out, ss)
	}
	return out
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func (s simpleSel) match(n *html.Node) bool {
	if n.Type != html.ElementNode || (s.tag != "" && n.Data != s.tag) {
		return false
	}
	if s.id != "" {
		if v, _ := attr(n, "id"); v != s.id {
			return false
		}
	}
	cls, _ := attr(n, "class")
	for _, c := range s.classes {
		if !strings.Contains(" "+cls+" ", " "+c+" ") {
			return false
		}
	}
	for i, a := range s.attrs {
		v, ok := attr(n, a[0])
		if !ok || (!s.has[i] && v != a[1]) {
			return false
		}
	}
	return true
}

// queryAll returns the elements under root matching sel, in document order.
func queryAll(root *html.Node, sel string) []*html.Node {
	parts := parseSel(sel)
	var out []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if parts[len(parts)-1].match(n) && ancestorsMatch(n.Parent, parts[:len(parts)-1]) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

func ancestorsMatch(n *html.Node, parts []simpleSel) bool {
	if len(parts) == 0 {
		return true
	}
	for ; n != nil; n = n.Parent {
		if parts[len(parts)-1].match(n) {
			return ancestorsMatch(n.Parent, parts[:len(parts)-1])
		}
	}
	return false
}

func query(root *html.Node, sel string) *html.Node {
	if all := queryAll(root, sel); len(all) > 0 {
		return all[0]
	}
	return nil
}

// text is the whitespace-normalised text content of n.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func texts(nodes []*html.Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = text(n)
	}
	return out
}

// mustQuery fails the test when sel matches nothing.
func mustQuery(tb testing.TB, root *html.Node, sel string) *html.Node {
	tb.Helper()
	n := query(root, sel)
	if n == nil {
		tb.Fatalf("no element matches %q", sel)
	}
	return n
}
