// Package demo loads a small realistic data set into an empty database: about
// fifty end users (several of them one person split across channels),
// organizations, groups, about two hundred tickets in every state including
// closed and archived history, one admin and one agent. Everything except the
// first admin is written through the REST API in-process, so the demo takes
// the same Zendesk-compatible paths as real clients.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

// Login is a demo account printed at start-up.
type Login struct {
	Role, Email, Password, Token string
}

// The demo staff accounts. The passwords are printed at start-up: the demo is
// for trying Mergedesk out, never for production data.
const (
	AdminEmail    = "ada.admin@helpdesk.example"
	AdminPassword = "demo-admin-2024"
	AgentEmail    = "sam.agent@helpdesk.example"
	AgentPassword = "demo-agent-2024"
)

// Load fills an empty database and returns the demo logins. On a database that
// already has users other than one bootstrap admin it does nothing and
// returns nil.
func Load(ctx context.Context, db *store.DB) ([]Login, error) {
	users, info, err := db.Users(ctx, mergedesk.UserFilter{}, mergedesk.Page{Size: 2})
	if err != nil {
		return nil, err
	}
	if info.Total > 1 || (info.Total == 1 && users[0].Role != mergedesk.RoleAdmin) {
		return nil, nil
	}
	if id, err := db.UserIDByEmail(ctx, AdminEmail); err != nil || id != 0 {
		return nil, err
	}
	admin, err := db.CreateUser(ctx, mergedesk.NewUser{Name: "Ada Admin", Role: mergedesk.RoleAdmin,
		Email: AdminEmail, Verified: true, TimeZone: "Europe/Berlin"})
	if err != nil {
		return nil, fmt.Errorf("demo admin: %w", err)
	}
	l := &loader{ctx: ctx, srv: &api.Server{DB: db, BaseURL: "http://demo.invalid"},
		as:  mergedesk.Principal{ID: admin.ID, Role: mergedesk.RoleAdmin},
		rng: rand.New(rand.NewPCG(2024, 5)), now: time.Now().UTC().Truncate(time.Hour)}
	return l.load(admin.ID)
}

// loader sends API requests in-process as the demo admin.
type loader struct {
	ctx context.Context
	srv *api.Server
	as  mergedesk.Principal
	rng *rand.Rand
	now time.Time
	err error

	orgs   map[string]int64
	groups map[string]int64
	users  []int64 // end users that raise tickets
	agent  int64
	admin  int64
}

// call sends one request and decodes the response into out; any status other
// than want stops the load.
func (l *loader) call(method, path string, body any, want int, out any) {
	if l.err != nil {
		return
	}
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			l.err = err
			return
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequestWithContext(api.WithCaller(l.ctx, l.as), method, "http://demo.invalid/api/v2"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	l.srv.ServeHTTP(rec, req)
	if rec.Code != want {
		l.err = fmt.Errorf("%s %s: HTTP %d, want %d: %s", method, path, rec.Code, want, truncate(rec.Body.String(), 300))
		return
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			l.err = fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

type idOf struct {
	ID int64 `json:"id"`
}

func (l *loader) createUser(u map[string]any) int64 {
	var out struct{ User idOf }
	l.call(http.MethodPost, "/users", map[string]any{"user": u}, http.StatusCreated, &out)
	return out.User.ID
}

func (l *loader) load(adminID int64) ([]Login, error) {
	l.admin = adminID
	adminToken := l.token(adminID)
	l.call(http.MethodPost, "/users/"+strconv.FormatInt(adminID, 10)+"/password",
		map[string]any{"password": AdminPassword}, http.StatusOK, nil)
	l.agent = l.createUser(map[string]any{"name": "Sam Agent", "email": AgentEmail, "role": "agent",
		"verified": true, "time_zone": "Europe/London"})
	l.call(http.MethodPost, "/users/"+strconv.FormatInt(l.agent, 10)+"/password",
		map[string]any{"password": AgentPassword}, http.StatusOK, nil)
	agentToken := l.token(l.agent)
	second := l.createUser(map[string]any{"name": "Kenji Watanabe", "email": "kenji.watanabe@helpdesk.example",
		"role": "agent", "verified": true, "time_zone": "Asia/Tokyo"})

	l.loadOrganizations()
	l.loadUsers()
	l.loadTickets([]int64{l.agent, second})
	l.loadHistory([]int64{l.agent, second})
	if l.err != nil {
		return nil, l.err
	}
	return []Login{
		{Role: "admin", Email: AdminEmail, Password: AdminPassword, Token: adminToken},
		{Role: "agent", Email: AgentEmail, Password: AgentPassword, Token: agentToken},
	}, nil
}

func (l *loader) token(userID int64) string {
	var out struct {
		APIToken struct {
			Token string `json:"token"`
		} `json:"api_token"`
	}
	l.call(http.MethodPost, "/users/"+strconv.FormatInt(userID, 10)+"/api_tokens",
		map[string]any{"api_token": map[string]any{"description": "demo"}}, http.StatusCreated, &out)
	return out.APIToken.Token
}

func (l *loader) loadOrganizations() {
	l.groups = map[string]int64{}
	for _, g := range []string{"Support", "Billing", "Enterprise"} {
		var out struct{ Group idOf }
		l.call(http.MethodPost, "/groups", map[string]any{"group": map[string]any{"name": g}}, http.StatusCreated, &out)
		l.groups[g] = out.Group.ID
	}
	l.orgs = map[string]int64{}
	for _, o := range []struct {
		name, domain, group, notes string
		tags                       []string
	}{
		{"Acme Corporation", "acme.example", "Enterprise", "Key account since 2019.", []string{"enterprise", "emea"}},
		{"Globex", "globex.example", "Enterprise", "", []string{"enterprise", "apac"}},
		{"Initech", "initech.example", "Support", "Prefers phone contact.", []string{"smb"}},
		{"Umbrella Health", "umbrella-health.example", "Billing", "Invoices go to accounts payable.", []string{"healthcare"}},
		{"Stark Logistics", "stark-logistics.example", "Support", "", []string{"smb", "logistics"}},
	} {
		var out struct{ Organization idOf }
		body := map[string]any{"name": o.name, "domain_names": []string{o.domain}, "group_id": l.groups[o.group], "tags": o.tags}
		if o.notes != "" {
			body["notes"] = o.notes
		}
		l.call(http.MethodPost, "/organizations", map[string]any{"organization": body}, http.StatusCreated, &out)
		l.orgs[o.name] = out.Organization.ID
	}
}

// Personas are one customer each, split across channels the way help desks see
// it: an e-mail profile, a phone-only profile from a call, an X profile. The two
// John Smiths are different people who only share a name.
var personas = []map[string]any{
	{"name": "Maria Schmidt", "email": "maria.schmidt@example.com", "tags": []string{"vip"}, "time_zone": "Berlin", "locale": "de"},
	{"name": "Maria Schmidt (phone)", "phone": "+49 30 2345 6789"},
	{"name": "Maria S.", "identities": []map[string]any{{"type": "twitter", "value": "@mariaschmidt"}}},
	{"name": "José García", "email": "jose.garcia@example.com", "locale": "es", "time_zone": "Madrid"},
	{"name": "José García (phone)", "phone": "+34 612 345 678"},
	{"name": "Pepe García", "email": "pepe.garcia@example.org", "notes": "Signs e-mails as José."},
	{"name": "Wei Li", "email": "wei.li@globex.example", "time_zone": "Asia/Shanghai"},
	{"name": "Wei Li (phone)", "phone": "+86 138 0013 8000"},
	{"name": "weili_dev", "identities": []map[string]any{{"type": "twitter", "value": "weili_dev"}}},
	{"name": "Aoife Murphy", "email": "aoife.murphy@example.net", "time_zone": "Dublin"},
	{"name": "Aoife Murphy (phone)", "phone": "+353 87 123 4567"},
	{"name": "Aoife M", "identities": []map[string]any{{"type": "twitter", "value": "@AoifeM_ie"}}},
	{"name": "John Smith", "email": "john.smith@acme.example"},
	{"name": "John Smith", "email": "jsmith1984@example.net", "phone": "(415) 555-0134"},
}

// Regular customers; addresses at an organization's domain join it.
var customers = []struct{ name, email, phone string }{
	{"Søren Kierkegaard", "soren.k@acme.example", ""},
	{"Łukasz Nowak", "lukasz.nowak@acme.example", "+48 601 234 567"},
	{"Amélie Dubois", "amelie.dubois@acme.example", ""},
	{"Chiara Rossi", "chiara.rossi@globex.example", "+39 347 123 4567"},
	{"Yuki Tanaka", "yuki.tanaka@globex.example", ""},
	{"Priya Sharma", "priya.sharma@globex.example", "+91 98765 43210"},
	{"Mehmet Yılmaz", "mehmet.yilmaz@initech.example", ""},
	{"Peter Gibbons", "peter.gibbons@initech.example", "+1 512 555 0188"},
	{"Samir Nagheenanajar", "samir.n@initech.example", ""},
	{"Olusegun Adeyemi", "olusegun@umbrella-health.example", "+234 803 123 4567"},
	{"Ingrid Larsen", "ingrid.larsen@umbrella-health.example", ""},
	{"Fatima Haddad", "fatima.haddad@umbrella-health.example", "+971 50 123 4567"},
	{"Dmitri Ivanov", "dmitri.ivanov@stark-logistics.example", ""},
	{"Thabo Mbeki", "thabo@stark-logistics.example", "+27 82 123 4567"},
	{"Lucía Fernández", "lucia.fernandez@example.com", ""},
	{"Björn Andersson", "bjorn.andersson@example.se", "+46 70 123 45 67"},
	{"Agnieszka Kowalczyk", "aga.kowalczyk@example.pl", ""},
	{"Nguyễn Văn An", "an.nguyen@example.vn", "+84 91 234 56 78"},
	{"Kim Min-jun", "minjun.kim@example.kr", ""},
	{"Mateus Silva", "mateus.silva@example.com.br", "+55 11 91234 5678"},
	{"Siobhán O'Brien", "siobhan.obrien@example.ie", ""},
	{"Kwame Mensah", "kwame.mensah@example.com", "+233 24 123 4567"},
	{"Zoë van der Berg", "zoe.vdberg@example.nl", ""},
	{"Elif Öztürk", "elif.ozturk@example.com.tr", ""},
	{"Olga Petrović", "olga.petrovic@example.rs", "+381 64 123 4567"},
	{"Hiroshi Sato", "hiroshi.sato@example.jp", ""},
	{"Emma Johnson", "emma.johnson@example.com", "+1 (212) 555-0147"},
	{"Liam Murphy", "liam.murphy@example.com", ""},
	{"Noah Williams", "noah.w@example.org", ""},
	{"Ana Costa", "ana.costa@example.pt", "+351 912 345 678"},
	{"Ravi Khan", "ravi.khan@example.co.uk", ""},
	{"Jürgen Müller", "j.mueller@example.de", "+49 89 1234 5678"},
	{"Ayşe Demir", "ayse.demir@example.com", ""},
}

func (l *loader) loadUsers() {
	for _, p := range personas {
		p["verified"] = p["email"] != nil
		if id := l.createUser(p); id != 0 {
			l.users = append(l.users, id)
		}
	}
	for i, c := range customers {
		u := map[string]any{"name": c.name, "email": c.email, "verified": i%4 != 3}
		if c.phone != "" {
			u["phone"] = c.phone
		}
		if i%5 == 0 {
			u["tags"] = []string{"newsletter"}
		}
		if id := l.createUser(u); id != 0 {
			l.users = append(l.users, id)
		}
	}
	// A membership written directly, for a customer whose address is private.
	var lucia struct{ Users []idOf }
	l.call(http.MethodGet, "/users/search?query="+url.QueryEscape("email:lucia.fernandez@example.com"), nil, http.StatusOK, &lucia)
	if l.err == nil && len(lucia.Users) == 1 {
		l.call(http.MethodPost, "/organization_memberships", map[string]any{"organization_membership": map[string]any{
			"user_id": lucia.Users[0].ID, "organization_id": l.orgs["Stark Logistics"]}}, http.StatusCreated, nil)
	}
}

// topic is a support request: a subject and the customer's first message.
type topic struct{ subject, body, typ string }

var topics = []topic{
	{"Charged twice for my subscription", "Hi, my card was charged twice this month. Can you refund one of the payments?", "problem"},
	{"Cannot reset my password", "The reset link in your e-mail says it has expired, even when I click it right away.", "problem"},
	{"Invoice needs our VAT number", "Please reissue invoice for March with our VAT number DE123456789.", "task"},
	{"How do I export my data?", "Is there a way to export all our tickets to CSV?", "question"},
	{"App crashes on startup (Android 14)", "Since the last update the app closes immediately after the splash screen.", "incident"},
	{"Change of billing address", "We moved offices, the new address is in the attached letter.", "task"},
	{"Lieferung nicht angekommen", "Meine Bestellung sollte gestern ankommen, die Sendungsverfolgung zeigt nichts an.", "problem"},
	{"Factura duplicada", "Hemos recibido la misma factura dos veces, ¿cuál debemos pagar?", "question"},
	{"Add two seats to our plan", "We are onboarding two new colleagues next week.", "task"},
	{"SSO login loops back to the login page", "After the IdP redirect we land on the login page again.", "incident"},
	{"Feature request: dark mode", "Our night shift would love a dark theme in the agent view.", "question"},
	{"Refund for cancelled order #48213", "I cancelled within 14 days, please refund.", "problem"},
	{"API rate limit questions", "What are the limits for the users endpoint? We see 429s at night.", "question"},
	{"Wrong time zone on reports", "All timestamps in the weekly report are one hour off.", "problem"},
	{"Cancel my account", "Please close my account and delete my data.", "task"},
	{"Damaged item received", "The package arrived crushed and the lamp inside is broken. Photos attached.", "problem"},
	{"Question about the enterprise plan", "Does the enterprise plan include a dedicated contact?", "question"},
	{"Two accounts for the same person?", "I think I have two accounts, one from calling you and one by e-mail.", "question"},
	{"Phone support callback", "Customer called, asked for a callback about her order.", "task"},
	{"DM: order status", "Hey, any news on my order? Sent you a DM last week.", "question"},
}

var replies = []string{
	"Thanks for reaching out! I'm looking into this now.",
	"Could you send us a screenshot of the error?",
	"I've forwarded this to our billing team; you'll hear back within one business day.",
	"This is fixed in version 5.2.1, which is rolling out today.",
	"I've issued the refund; it can take 3–5 business days to appear.",
	"Thanks, that did the trick!",
}

// priorities and statuses are drawn with these weights.
var (
	priorities = []string{"low", "normal", "normal", "normal", "high", "urgent"}
	statuses   = []string{"new", "open", "open", "pending", "pending", "hold", "solved", "solved", "closed"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// loadTickets creates current tickets through POST /tickets and moves them
// through their life with PUT /tickets/{id}.
func (l *loader) loadTickets(agents []int64) {
	const n = 140
	newcomers := []map[string]any{
		{"name": "Hannah Becker", "email": "hannah.becker@example.de"},
		{"name": "Oscar Lindqvist", "email": "oscar.lindqvist@example.se"},
		{"name": "Isabella Rossi", "email": "isabella.rossi@example.it"},
		{"email": "no-name-customer@example.com"}, // named after the address's local part
	}
	for i := 0; i < n && l.err == nil; i++ {
		tp := pick(l.rng, topics)
		t := map[string]any{"subject": tp.subject, "type": tp.typ, "priority": pick(l.rng, priorities),
			"comment": map[string]any{"body": tp.body}, "tags": []string{pick(l.rng, []string{"billing", "shipping", "account", "bug", "howto"})}}
		switch {
		case i < len(newcomers):
			t["requester"] = newcomers[i] // inline requester: a new end user
		default:
			t["requester_id"] = pick(l.rng, l.users)
		}
		if i%9 == 0 {
			t["collaborators"] = []any{pick(l.rng, l.users), map[string]any{"name": "Finance Team", "email": "finance@acme.example"}}
		} else if i%13 == 0 {
			t["collaborators"] = []any{"assistant@globex.example"}
		}
		status := pick(l.rng, statuses)
		if status != "new" {
			t["assignee_id"] = pick(l.rng, agents)
		}
		var out struct{ Ticket idOf }
		l.call(http.MethodPost, "/tickets", map[string]any{"ticket": t}, http.StatusCreated, &out)
		id := strconv.FormatInt(out.Ticket.ID, 10)
		steps := map[string][]string{"pending": {"pending"}, "hold": {"hold"}, "solved": {"pending", "solved"},
			"closed": {"solved", "closed"}}[status]
		for _, st := range steps {
			l.call(http.MethodPut, "/tickets/"+id, map[string]any{"ticket": map[string]any{"status": st,
				"comment": map[string]any{"body": pick(l.rng, replies), "public": l.rng.IntN(4) != 0}}}, http.StatusOK, nil)
		}
	}
}

// loadHistory imports closed tickets of the past two years, most of them
// archived, through POST /imports/tickets.
func (l *loader) loadHistory(agents []int64) {
	const n = 60
	for i := 0; i < n && l.err == nil; i++ {
		tp := pick(l.rng, topics)
		requester := pick(l.rng, l.users)
		agent := pick(l.rng, agents)
		created := l.now.Add(-time.Duration(30+l.rng.IntN(700)) * 24 * time.Hour)
		solved := created.Add(time.Duration(2+l.rng.IntN(72)) * time.Hour)
		closed := solved.Add(4 * 24 * time.Hour)
		status, archive := "closed", i%6 != 0 // one in six stays closed but not archived
		if i%10 == 9 {
			status, archive = "solved", false
		}
		t := map[string]any{"subject": tp.subject, "type": tp.typ, "priority": pick(l.rng, priorities),
			"status": status, "requester_id": requester, "assignee_id": agent, "tags": []string{"history"},
			"created_at": created.Format(time.RFC3339), "updated_at": closed.Format(time.RFC3339),
			"solved_at": solved.Format(time.RFC3339),
			"comments": []map[string]any{
				{"author_id": requester, "value": tp.body, "created_at": created.Format(time.RFC3339)},
				{"author_id": agent, "value": pick(l.rng, replies), "created_at": created.Add(time.Hour).Format(time.RFC3339)},
				{"author_id": requester, "value": "Thanks, that did the trick!", "created_at": solved.Format(time.RFC3339)},
			}}
		path := "/imports/tickets"
		if archive {
			path += "?archive_immediately=true"
		}
		l.call(http.MethodPost, path, map[string]any{"ticket": t}, http.StatusCreated, nil)
	}
}
