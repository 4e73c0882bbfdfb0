// Package demo loads a small realistic data set into an empty database: about
// fifty end users (several of them one person split across channels),
// organizations, groups, about two hundred tickets in every state including
// closed and archived history, one admin and one agent. It writes through the
// store (the Store interface, internal/store's *DB in cmd/mergedesk) with the
// same domain inputs an API client's requests become: tickets are written by
// the demo admin through the "api" channel, so their audits, inline requesters
// and CCs come out as if a client had sent them.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mergedesk/mergedesk"
)

// Store is the storage the demo writes through: the few methods of
// internal/store's *DB it uses.
type Store interface {
	Users(ctx context.Context, f mergedesk.UserFilter, p mergedesk.Page) ([]*mergedesk.User, mergedesk.PageInfo, error)
	UserIDByEmail(ctx context.Context, email string) (int64, error)
	CreateUser(ctx context.Context, nu mergedesk.NewUser) (*mergedesk.User, error)
	SetPassword(ctx context.Context, userID int64, pw string) error
	CreateAPIToken(ctx context.Context, userID int64, description *string, value string) (*mergedesk.APIToken, error)
	CreateGroup(ctx context.Context, w mergedesk.GroupWrite) (*mergedesk.Group, error)
	CreateOrganization(ctx context.Context, w mergedesk.OrganizationWrite) (*mergedesk.Organization, error)
	CreateMembership(ctx context.Context, userID int64, orgID int64, makeDefault bool, check func(*mergedesk.User) error) (*mergedesk.Membership, error)
	CreateTicket(ctx context.Context, in mergedesk.TicketInput, w mergedesk.TicketWriter) (*mergedesk.Ticket, *mergedesk.Audit, error)
	UpdateTicket(ctx context.Context, id int64, in mergedesk.TicketInput, w mergedesk.TicketWriter) (*mergedesk.Ticket, *mergedesk.Audit, error)
	ImportTicket(ctx context.Context, in mergedesk.TicketInput, actorID int64, archive bool) (*mergedesk.Ticket, error)
}

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
func Load(ctx context.Context, db Store) ([]Login, error) {
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
	l := &loader{ctx: ctx, db: db, rng: rand.New(rand.NewPCG(2024, 5)), now: time.Now().UTC().Truncate(time.Hour)}
	return l.load()
}

// loader writes the data set as the demo admin.
type loader struct {
	ctx context.Context
	db  Store
	rng *rand.Rand
	now time.Time

	admin  int64
	orgs   map[string]int64
	groups map[string]int64
	users  []int64 // end users that raise tickets
}

// writer is the author and channel of the demo's ticket writes: the admin,
// through the API, as when the demo was loaded by API requests.
func (l *loader) writer() mergedesk.TicketWriter {
	return mergedesk.TicketWriter{ActorID: l.admin, Via: mergedesk.NewVia("api")}
}

func ptr[T any](v T) *T { return &v }

// set is a field an update sets to v (the **T of the domain inputs, where a
// nil pointer leaves the field alone).
func set[T any](v T) **T { p := &v; return &p }

func (l *loader) load() ([]Login, error) {
	admin, err := l.db.CreateUser(l.ctx, mergedesk.NewUser{Name: "Ada Admin", Role: mergedesk.RoleAdmin,
		Email: AdminEmail, Verified: true, TimeZone: "Europe/Berlin"})
	if err != nil {
		return nil, fmt.Errorf("demo admin: %w", err)
	}
	l.admin = admin.ID
	adminToken, err := l.token(admin.ID)
	if err != nil {
		return nil, err
	}
	if err := l.db.SetPassword(l.ctx, admin.ID, AdminPassword); err != nil {
		return nil, fmt.Errorf("demo admin password: %w", err)
	}
	agent, err := l.createUser(mergedesk.NewUser{Name: "Sam Agent", Email: AgentEmail, Role: mergedesk.RoleAgent,
		Verified: true, TimeZone: "Europe/London"})
	if err != nil {
		return nil, err
	}
	if err := l.db.SetPassword(l.ctx, agent, AgentPassword); err != nil {
		return nil, fmt.Errorf("demo agent password: %w", err)
	}
	agentToken, err := l.token(agent)
	if err != nil {
		return nil, err
	}
	second, err := l.createUser(mergedesk.NewUser{Name: "Kenji Watanabe", Email: "kenji.watanabe@helpdesk.example",
		Role: mergedesk.RoleAgent, Verified: true, TimeZone: "Asia/Tokyo"})
	if err != nil {
		return nil, err
	}
	agents := []int64{agent, second}
	for _, step := range []func() error{
		l.loadOrganizations,
		l.loadUsers,
		func() error { return l.loadTickets(agents) },
		func() error { return l.loadHistory(agents) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return []Login{
		{Role: mergedesk.RoleAdmin, Email: AdminEmail, Password: AdminPassword, Token: adminToken},
		{Role: mergedesk.RoleAgent, Email: AgentEmail, Password: AgentPassword, Token: agentToken},
	}, nil
}

func (l *loader) createUser(nu mergedesk.NewUser) (int64, error) {
	u, err := l.db.CreateUser(l.ctx, nu)
	if err != nil {
		return 0, fmt.Errorf("demo user %q: %w", nu.Name, err)
	}
	return u.ID, nil
}

func (l *loader) token(userID int64) (string, error) {
	t, err := l.db.CreateAPIToken(l.ctx, userID, ptr("demo"), "")
	if err != nil {
		return "", fmt.Errorf("demo API token of user %d: %w", userID, err)
	}
	return t.Token, nil
}

func (l *loader) loadOrganizations() error {
	l.groups = map[string]int64{}
	for _, g := range []string{"Support", "Billing", "Enterprise"} {
		gr, err := l.db.CreateGroup(l.ctx, mergedesk.GroupWrite{Name: ptr(g)})
		if err != nil {
			return fmt.Errorf("demo group %q: %w", g, err)
		}
		l.groups[g] = gr.ID
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
		w := mergedesk.OrganizationWrite{Name: ptr(o.name), DomainNames: &[]string{o.domain},
			GroupID: set(l.groups[o.group]), Tags: ptr(o.tags)}
		if o.notes != "" {
			w.Notes = set(o.notes)
		}
		org, err := l.db.CreateOrganization(l.ctx, w)
		if err != nil {
			return fmt.Errorf("demo organization %q: %w", o.name, err)
		}
		l.orgs[o.name] = org.ID
	}
	return nil
}

// A persona is one end-user profile. Personas are one customer each, split
// across channels the way help desks see it: an e-mail profile, a phone-only
// profile from a call, an X profile. The two John Smiths are different people
// who only share a name. The X profiles of Maria and Aoife carry their names
// and a handle that spells their e-mail address, so duplicate detection
// suggests them (Detect); the phone-only profiles share nothing but a name
// with the others and are left for an agent to find (and, unverified, they are
// refused as merge sources until verified, rule M3).
type persona struct {
	name, email, phone, x, timeZone, locale, notes string
	tags                                           []string
}

var personas = []persona{
	{name: "Maria Schmidt", email: "maria.schmidt@example.com", tags: []string{"vip"}, timeZone: "Berlin", locale: "de"},
	{name: "Maria Schmidt (phone)", phone: "+49 30 2345 6789"},
	{name: "Maria Schmidt", x: "@mariaschmidt"},
	{name: "José García", email: "jose.garcia@example.com", locale: "es", timeZone: "Madrid"},
	{name: "José García (phone)", phone: "+34 612 345 678"},
	{name: "Pepe García", email: "pepe.garcia@example.org", notes: "Signs e-mails as José."},
	{name: "Wei Li", email: "wei.li@globex.example", timeZone: "Asia/Shanghai"},
	{name: "Wei Li (phone)", phone: "+86 138 0013 8000"},
	{name: "weili_dev", x: "weili_dev"},
	{name: "Aoife Murphy", email: "aoife.murphy@example.net", timeZone: "Dublin"},
	{name: "Aoife Murphy (phone)", phone: "+353 87 123 4567"},
	{name: "Aoife Murphy", x: "@AoifeMurphy"},
	{name: "John Smith", email: "john.smith@acme.example"},
	{name: "John Smith", email: "jsmith1984@example.net", phone: "(415) 555-0134"},
}

// newUser is the persona as an end user; a profile with an e-mail address is
// verified.
func (p persona) newUser() (mergedesk.NewUser, error) {
	nu := mergedesk.NewUser{Name: p.name, Email: p.email, Phone: p.phone, Verified: p.email != "",
		TimeZone: p.timeZone, Tags: p.tags}
	if p.notes != "" {
		nu.Notes = ptr(p.notes)
	}
	if p.locale != "" {
		loc := mergedesk.LocaleByName(p.locale)
		if loc == nil {
			return nu, fmt.Errorf("demo user %q: unknown locale %q", p.name, p.locale)
		}
		nu.LocaleID = loc.ID
	}
	if p.x != "" {
		nu.Identities = []mergedesk.NewIdentity{{Type: mergedesk.IdentityTwitter, Value: p.x}}
	}
	return nu, nil
}

// Regular customers; addresses at an organization's domain join it, and org
// names a membership written directly, for a customer whose address is private.
var customers = []struct{ name, email, phone, org string }{
	{"Søren Kierkegaard", "soren.k@acme.example", "", ""},
	{"Łukasz Nowak", "lukasz.nowak@acme.example", "+48 601 234 567", ""},
	{"Amélie Dubois", "amelie.dubois@acme.example", "", ""},
	{"Chiara Rossi", "chiara.rossi@globex.example", "+39 347 123 4567", ""},
	{"Yuki Tanaka", "yuki.tanaka@globex.example", "", ""},
	{"Priya Sharma", "priya.sharma@globex.example", "+91 98765 43210", ""},
	{"Mehmet Yılmaz", "mehmet.yilmaz@initech.example", "", ""},
	{"Peter Gibbons", "peter.gibbons@initech.example", "+1 512 555 0188", ""},
	{"Samir Nagheenanajar", "samir.n@initech.example", "", ""},
	{"Olusegun Adeyemi", "olusegun@umbrella-health.example", "+234 803 123 4567", ""},
	{"Ingrid Larsen", "ingrid.larsen@umbrella-health.example", "", ""},
	{"Fatima Haddad", "fatima.haddad@umbrella-health.example", "+971 50 123 4567", ""},
	{"Dmitri Ivanov", "dmitri.ivanov@stark-logistics.example", "", ""},
	{"Thabo Mbeki", "thabo@stark-logistics.example", "+27 82 123 4567", ""},
	{"Lucía Fernández", "lucia.fernandez@example.com", "", "Stark Logistics"},
	{"Björn Andersson", "bjorn.andersson@example.se", "+46 70 123 45 67", ""},
	{"Agnieszka Kowalczyk", "aga.kowalczyk@example.pl", "", ""},
	{"Nguyễn Văn An", "an.nguyen@example.vn", "+84 91 234 56 78", ""},
	{"Kim Min-jun", "minjun.kim@example.kr", "", ""},
	{"Mateus Silva", "mateus.silva@example.com.br", "+55 11 91234 5678", ""},
	{"Siobhán O'Brien", "siobhan.obrien@example.ie", "", ""},
	{"Kwame Mensah", "kwame.mensah@example.com", "+233 24 123 4567", ""},
	{"Zoë van der Berg", "zoe.vdberg@example.nl", "", ""},
	{"Elif Öztürk", "elif.ozturk@example.com.tr", "", ""},
	{"Olga Petrović", "olga.petrovic@example.rs", "+381 64 123 4567", ""},
	{"Hiroshi Sato", "hiroshi.sato@example.jp", "", ""},
	{"Emma Johnson", "emma.johnson@example.com", "+1 (212) 555-0147", ""},
	{"Liam Murphy", "liam.murphy@example.com", "", ""},
	{"Noah Williams", "noah.w@example.org", "", ""},
	{"Ana Costa", "ana.costa@example.pt", "+351 912 345 678", ""},
	{"Ravi Khan", "ravi.khan@example.co.uk", "", ""},
	{"Jürgen Müller", "j.mueller@example.de", "+49 89 1234 5678", ""},
	{"Ayşe Demir", "ayse.demir@example.com", "", ""},
}

func (l *loader) loadUsers() error {
	for _, p := range personas {
		nu, err := p.newUser()
		if err != nil {
			return err
		}
		id, err := l.createUser(nu)
		if err != nil {
			return err
		}
		l.users = append(l.users, id)
	}
	type membership struct {
		user int64
		org  string
	}
	var direct []membership
	for i, c := range customers {
		nu := mergedesk.NewUser{Name: c.name, Email: c.email, Phone: c.phone, Verified: i%4 != 3}
		if i%5 == 0 {
			nu.Tags = []string{"newsletter"}
		}
		id, err := l.createUser(nu)
		if err != nil {
			return err
		}
		l.users = append(l.users, id)
		if c.org != "" {
			direct = append(direct, membership{id, c.org})
		}
	}
	for _, m := range direct {
		if _, err := l.db.CreateMembership(l.ctx, m.user, l.orgs[m.org], false, nil); err != nil {
			return fmt.Errorf("demo membership of user %d in %q: %w", m.user, m.org, err)
		}
	}
	return nil
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

// loadTickets creates current tickets and moves them through their life with
// updates, as POST /tickets and PUT /tickets/{id} would.
func (l *loader) loadTickets(agents []int64) error {
	const n = 140
	newcomers := []mergedesk.RequesterInput{
		{Name: "Hannah Becker", Email: "hannah.becker@example.de"},
		{Name: "Oscar Lindqvist", Email: "oscar.lindqvist@example.se"},
		{Name: "Isabella Rossi", Email: "isabella.rossi@example.it"},
		{Email: "no-name-customer@example.com"}, // named after the address's local part
	}
	for i := 0; i < n; i++ {
		// The random draws keep their order: the same seed gives the same tickets.
		tp := pick(l.rng, topics)
		in := mergedesk.TicketInput{Subject: ptr(tp.subject), Type: set(tp.typ), Priority: set(pick(l.rng, priorities)),
			Comment: &mergedesk.CommentInput{Body: tp.body},
			Tags:    &[]string{pick(l.rng, []string{"billing", "shipping", "account", "bug", "howto"})}}
		if i < len(newcomers) {
			in.Requester = &newcomers[i] // inline requester: a new end user
		} else {
			in.RequesterID = ptr(pick(l.rng, l.users))
		}
		if i%9 == 0 {
			in.Collaborators = &[]mergedesk.CCRef{{UserID: pick(l.rng, l.users)},
				{Name: "Finance Team", Email: "finance@acme.example"}} // an unknown address: a new end user
		} else if i%13 == 0 {
			in.Collaborators = &[]mergedesk.CCRef{{Email: "assistant@globex.example"}}
		}
		status := pick(l.rng, statuses)
		if status != "new" {
			in.AssigneeID = set(pick(l.rng, agents))
		}
		t, _, err := l.db.CreateTicket(l.ctx, in, l.writer())
		if err != nil {
			return fmt.Errorf("demo ticket %d: %w", i, err)
		}
		steps := map[string][]string{"pending": {"pending"}, "hold": {"hold"}, "solved": {"pending", "solved"},
			"closed": {"solved", "closed"}}[status]
		for _, st := range steps {
			c := &mergedesk.CommentInput{Body: pick(l.rng, replies), Public: ptr(l.rng.IntN(4) != 0)}
			if _, _, err := l.db.UpdateTicket(l.ctx, t.ID, mergedesk.TicketInput{Status: ptr(st), Comment: c}, l.writer()); err != nil {
				return fmt.Errorf("demo ticket %d to %s: %w", t.ID, st, err)
			}
		}
	}
	return nil
}

// loadHistory imports closed tickets of the past two years, most of them
// archived, as POST /imports/tickets would.
func (l *loader) loadHistory(agents []int64) error {
	const n = 60
	for i := 0; i < n; i++ {
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
		in := mergedesk.TicketInput{Subject: ptr(tp.subject), Type: set(tp.typ), Priority: set(pick(l.rng, priorities)),
			Status: ptr(status), RequesterID: ptr(requester), AssigneeID: set(agent), Tags: &[]string{"history"},
			CreatedAt: ptr(created), UpdatedAt: ptr(closed), SolvedAt: ptr(solved),
			Comments: []mergedesk.CommentInput{
				{AuthorID: requester, Body: tp.body, CreatedAt: created},
				{AuthorID: agent, Body: pick(l.rng, replies), CreatedAt: created.Add(time.Hour)},
				{AuthorID: requester, Body: "Thanks, that did the trick!", CreatedAt: solved},
			}}
		if _, err := l.db.ImportTicket(l.ctx, in, l.admin, archive); err != nil {
			return fmt.Errorf("demo history ticket %d: %w", i, err)
		}
	}
	return nil
}
