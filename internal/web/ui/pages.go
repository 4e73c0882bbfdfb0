package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/identity"
	"github.com/mergedesk/mergedesk/internal/search"
)

const pageSize = 25

// Paging links a list's neighbouring pages.
type Paging struct {
	Page, Pages, Total int
	PrevURL, NextURL   string
}

func paging(base string, q url.Values, page, total, size int) Paging {
	p := Paging{Page: page, Total: total, Pages: (total + size - 1) / size}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		return base + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	if page < p.Pages {
		p.NextURL = link(page + 1)
	}
	return p
}

func pageParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 10000)
}

// CustomerRow is one user in a list.
type CustomerRow struct {
	User   *mergedesk.User
	Emails []string
	Phones []string // as people read them (identity.FormatPhone)
	// Handles are the other channel identities ("X (Twitter): annlee"), so a
	// profile without an email can still be told apart.
	Handles []string
	Orgs    []string
}

func customerRow(u *mergedesk.User) CustomerRow {
	row := CustomerRow{User: u}
	for _, id := range u.Identities {
		switch id.Type {
		case mergedesk.IdentityEmail:
			row.Emails = append(row.Emails, id.Value)
		case mergedesk.IdentityPhone:
			row.Phones = append(row.Phones, identity.FormatPhone(id.Value))
		default:
			row.Handles = append(row.Handles, identityLabel(id.Type)+": "+id.Value)
		}
	}
	if u.SharedPhone != nil {
		row.Phones = append(row.Phones, identity.FormatPhone(*u.SharedPhone))
	}
	for _, m := range u.Memberships {
		row.Orgs = append(row.Orgs, m.OrganizationName)
	}
	return row
}

// CustomersPage is the customer list and its search.
type CustomersPage struct {
	Layout
	Query  string
	Rows   []CustomerRow
	Paging Paging
}

var phoneLike = regexp.MustCompile(`^[+(]?[0-9][0-9 ()./-]{4,}$`)

// searchUsers finds active users by name, email or phone. Free text goes through
// the search grammar of docs/api.md §9; a phone number typed with spaces is searched
// as one word, which the store normalises to E.164 as a whole.
func (s *Server) searchUsers(ctx context.Context, text string, endUsersOnly bool, limit, offset int) ([]*mergedesk.User, int, error) {
	text = strings.TrimSpace(text)
	if phoneLike.MatchString(text) {
		text = strings.ReplaceAll(text, " ", "")
	}
	if endUsersOnly {
		text += " role:end-user"
	}
	q, err := search.Parse(text)
	if err != nil {
		return nil, 0, err
	}
	settings, err := s.DB.Settings(ctx)
	if err != nil {
		return nil, 0, err
	}
	ids, total, err := s.DB.SearchUsers(ctx, q, settings.Phone.DefaultRegion, "", "", limit, offset)
	if err != nil {
		return nil, 0, err
	}
	users, err := s.DB.UsersByIDs(ctx, ids)
	return users, total, err
}

func (s *Server) customers(w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	page := pageParam(r)
	var (
		users []*mergedesk.User
		total int
		err   error
	)
	if q == "" {
		var info mergedesk.PageInfo
		users, info, err = s.DB.Users(r.Context(), mergedesk.UserFilter{Roles: []string{mergedesk.RoleEndUser}},
			mergedesk.Page{Size: pageSize, Offset: (page - 1) * pageSize})
		total = info.Total
	} else {
		users, total, err = s.searchUsers(r.Context(), q, true, pageSize, (page-1)*pageSize)
	}
	if err != nil {
		return err
	}
	p := CustomersPage{Layout: s.layout(r, "Customers", "customers"), Query: q}
	for _, u := range users {
		p.Rows = append(p.Rows, customerRow(u))
	}
	params := url.Values{}
	if q != "" {
		params.Set("q", q)
	}
	p.Paging = paging("/customers", params, page, total, pageSize)
	if isHTMX(r) {
		return s.render(w, http.StatusOK, "customers", "customer_results", p)
	}
	return s.render(w, http.StatusOK, "customers", "layout", p)
}

// TicketRow is one ticket in a list.
type TicketRow struct {
	Ticket    *mergedesk.Ticket
	Requester *mergedesk.User
}

// TicketList is a list of tickets and how many there are in all.
type TicketList struct {
	Rows  []TicketRow
	Total int
}

// IdentityGroup is a user's identities of one type, primary first.
type IdentityGroup struct {
	Type, Label string
	Identities  []mergedesk.Identity
}

// KV is one user field.
type KV struct{ Key, Value string }

// ProfileForm is the edit form's values and its error.
type ProfileForm struct {
	Name, Tags, Details, Notes string
	Error                      string
}

// IdentityForm is the add-identity form's values and its error.
type IdentityForm struct {
	Type, Value string
	Error       string
}

// UserPage is a user's profile.
type UserPage struct {
	Layout
	User           *mergedesk.User
	IdentityGroups []IdentityGroup
	UserFields     []KV
	Requested      TicketList
	CCd            TicketList
	MergedInto     *mergedesk.User
	CanMerge       bool
	// ShowDuplicates: the Possible duplicates panel is shown (an active end
	// user, detection on, the agent may read duplicates).
	ShowDuplicates bool
	Profile        ProfileForm
	Identity       IdentityForm
	IdentityTypes  []string
	EditOpen       bool
	// CanEdit: the signed-in user may change this profile and its identities
	// (mergedesk.CanWriteUser); without it the page shows no edit forms.
	CanEdit bool
}

func (s *Server) userPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := s.loadUserPage(r, id)
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("saved") {
	case "profile":
		p.Notice = "Profile saved."
	case "identity":
		p.Notice = "Identity added."
	case "verified":
		p.Notice = "Identity verified."
	}
	if src := r.URL.Query().Get("merged"); src != "" {
		if sid, err := strconv.ParseInt(src, 10, 64); err == nil {
			if su, err := s.DB.User(r.Context(), sid); err == nil && su.MergedIntoID != nil && *su.MergedIntoID == id {
				p.Notice = fmt.Sprintf("%s was merged into %s. Their tickets and identities are now on this profile.", su.Name, p.User.Name)
			}
		}
	}
	return s.render(w, http.StatusOK, "user", "layout", p)
}

func (s *Server) loadUserPage(r *http.Request, id int64) (*UserPage, error) {
	ctx := r.Context()
	u, err := s.DB.User(ctx, id)
	if err != nil {
		return nil, err
	}
	p := &UserPage{Layout: s.layout(r, u.Name, "customers"), User: u, IdentityTypes: mergedesk.IdentityTypes,
		CanMerge: u.Active && u.Role == mergedesk.RoleEndUser && mergedesk.CanMerge(actor(r)) == nil,
		CanEdit:  u.Active && mergedesk.CanWriteUser(actor(r), u, mergedesk.UserChange{}) == nil}
	for _, typ := range mergedesk.IdentityTypes {
		g := IdentityGroup{Type: typ, Label: identityLabel(typ)}
		for _, ident := range u.Identities {
			if ident.Type == typ {
				g.Identities = append(g.Identities, ident)
			}
		}
		if len(g.Identities) > 0 {
			sort.SliceStable(g.Identities, func(i, j int) bool { return g.Identities[i].Primary && !g.Identities[j].Primary })
			p.IdentityGroups = append(p.IdentityGroups, g)
		}
	}
	keys := make([]string, 0, len(u.UserFields))
	for k := range u.UserFields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := u.UserFields[k]
		if v == nil {
			continue
		}
		p.UserFields = append(p.UserFields, KV{Key: k, Value: fmt.Sprint(v)})
	}
	if u.MergedIntoID != nil {
		if p.MergedInto, err = s.DB.User(ctx, *u.MergedIntoID); err != nil {
			return nil, err
		}
	}
	if p.Requested, err = s.ticketList(ctx, mergedesk.TicketFilter{RequesterID: &id}); err != nil {
		return nil, err
	}
	if p.CCd, err = s.ticketList(ctx, mergedesk.TicketFilter{CCUserID: &id}); err != nil {
		return nil, err
	}
	if u.Active && u.Role == mergedesk.RoleEndUser {
		if p.ShowDuplicates, err = s.duplicatesOn(r); err != nil {
			return nil, err
		}
	}
	p.Profile = ProfileForm{Name: u.Name, Tags: strings.Join(u.Tags, " "), Details: deref(u.Details), Notes: deref(u.Notes)}
	p.Identity = IdentityForm{Type: mergedesk.IdentityEmail}
	return p, nil
}

// ticketList reads the newest 100 tickets of f with their requesters.
func (s *Server) ticketList(ctx context.Context, f mergedesk.TicketFilter) (TicketList, error) {
	ts, info, err := s.DB.Tickets(ctx, f, mergedesk.Page{Size: 100, Desc: true})
	if err != nil {
		return TicketList{}, err
	}
	rows, err := s.ticketRows(ctx, ts)
	return TicketList{Rows: rows, Total: info.Total}, err
}

func (s *Server) ticketRows(ctx context.Context, ts []*mergedesk.Ticket) ([]TicketRow, error) {
	var ids []int64
	for _, t := range ts {
		if !slices.Contains(ids, t.RequesterID) {
			ids = append(ids, t.RequesterID)
		}
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	rows := make([]TicketRow, len(ts))
	for i, t := range ts {
		rows[i] = TicketRow{Ticket: t, Requester: users[t.RequesterID]}
	}
	return rows, nil
}

func (s *Server) usersByID(ctx context.Context, ids []int64) (map[int64]*mergedesk.User, error) {
	out := map[int64]*mergedesk.User{}
	if len(ids) == 0 {
		return out, nil
	}
	users, err := s.DB.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}

// updateProfile saves the edit form. A refused update shows the form again with
// the store's message next to it.
func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.canWriteUser(r, id); err != nil {
		return err
	}
	form := ProfileForm{Name: strings.TrimSpace(r.PostFormValue("name")), Tags: r.PostFormValue("tags"),
		Details: r.PostFormValue("details"), Notes: r.PostFormValue("notes")}
	upd := mergedesk.UserUpdate{}
	if form.Name == "" {
		form.Error = "Name: cannot be blank"
	} else {
		upd.Name = &form.Name
		tags := strings.FieldsFunc(form.Tags, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
		upd.Tags = &tags
		details, notes := optional(form.Details), optional(form.Notes)
		upd.Details, upd.Notes = &details, &notes
		if _, err := s.DB.UpdateUser(r.Context(), id, upd, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{})); err != nil {
			if mergedesk.ErrorCode(err) != mergedesk.EInvalid {
				return err
			}
			form.Error = errorMessage(err)
		}
	}
	if form.Error == "" {
		http.Redirect(w, r, fmt.Sprintf("/users/%d?saved=profile", id), http.StatusSeeOther)
		return nil
	}
	p, err := s.loadUserPage(r, id)
	if err != nil {
		return err
	}
	p.Profile, p.EditOpen = form, true
	return s.render(w, http.StatusUnprocessableEntity, "user", "layout", p)
}

// canWriteUser asks the domain whether the signed-in user may change the user
// id: its profile, tags or identities (mergedesk.CanWriteUser). Agents may
// change end users only; a refusal is a 403 page.
func (s *Server) canWriteUser(r *http.Request, id int64) error {
	u, err := s.DB.User(r.Context(), id)
	if err != nil {
		return err
	}
	return mergedesk.CanWriteUser(actor(r), u, mergedesk.UserChange{})
}

func optional(s string) *string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return &s
}

func (s *Server) addIdentity(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := s.canWriteUser(r, id); err != nil {
		return err
	}
	form := IdentityForm{Type: r.PostFormValue("type"), Value: strings.TrimSpace(r.PostFormValue("value"))}
	switch {
	case !slices.Contains(mergedesk.IdentityTypes, form.Type):
		form.Error = "Type: choose one of the listed types"
	case form.Value == "":
		form.Error = "Value: cannot be blank"
	default:
		_, err := s.DB.AddIdentity(r.Context(), id, mergedesk.NewIdentity{Type: form.Type, Value: form.Value}, mergedesk.UserWriteCheck(actor(r), mergedesk.UserChange{}))
		if err != nil {
			if mergedesk.ErrorCode(err) != mergedesk.EInvalid {
				return err
			}
			form.Error = errorMessage(err)
		}
	}
	if form.Error == "" {
		http.Redirect(w, r, fmt.Sprintf("/users/%d?saved=identity", id), http.StatusSeeOther)
		return nil
	}
	p, err := s.loadUserPage(r, id)
	if err != nil {
		return err
	}
	p.Identity = form
	return s.render(w, http.StatusUnprocessableEntity, "user", "layout", p)
}

// TicketsPage lists tickets, newest first.
type TicketsPage struct {
	Layout
	Rows   []TicketRow
	Paging Paging
}

func (s *Server) tickets(w http.ResponseWriter, r *http.Request) error {
	page := pageParam(r)
	ts, info, err := s.DB.Tickets(r.Context(), mergedesk.TicketFilter{}, mergedesk.Page{Size: pageSize, Offset: (page - 1) * pageSize, Desc: true})
	if err != nil {
		return err
	}
	rows, err := s.ticketRows(r.Context(), ts)
	if err != nil {
		return err
	}
	p := TicketsPage{Layout: s.layout(r, "Tickets", "tickets"), Rows: rows,
		Paging: paging("/tickets", url.Values{}, page, info.Total, pageSize)}
	return s.render(w, http.StatusOK, "tickets", "layout", p)
}

// Part is a piece of an event's text, linked when Href is set.
type Part struct{ Text, Href string }

// EventRow is one event of an audit, as words.
type EventRow struct {
	Type  string
	Parts []Part
	Body  string // comments
}

// AuditRow is one audit of a ticket's event log.
type AuditRow struct {
	Audit  *mergedesk.Audit
	Author *mergedesk.User
	Via    string
	// Merge is set for the audit a user merge wrote (via user_merge).
	Merge        bool
	From, To     *mergedesk.User
	Events       []EventRow
	AuthorIsUser bool
}

// CommentRow is one comment of a ticket.
type CommentRow struct {
	Comment *mergedesk.Comment
	Author  *mergedesk.User
}

// TicketPage is one ticket with its people, comments and event log.
type TicketPage struct {
	Layout
	Ticket       *mergedesk.Ticket
	Requester    *mergedesk.User
	Assignee     *mergedesk.User
	CCs          []*mergedesk.User
	Organization *mergedesk.Organization
	Comments     []CommentRow
	Audits       []AuditRow
}

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	t, err := s.DB.Ticket(ctx, id)
	if err != nil {
		return err
	}
	audits, _, err := s.DB.TicketAudits(ctx, id, mergedesk.Page{Size: 100})
	if err != nil {
		return err
	}
	comments, _, err := s.DB.TicketComments(ctx, id, mergedesk.Page{Size: 100})
	if err != nil {
		return err
	}
	// Everyone the page names, loaded in one go.
	ids := []int64{t.RequesterID}
	add := func(id int64) {
		if id > 0 && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if t.AssigneeID != nil {
		add(*t.AssigneeID)
	}
	for _, c := range t.EmailCCIDs {
		add(c)
	}
	for _, c := range comments {
		add(c.AuthorID)
	}
	for _, a := range audits {
		add(a.AuthorID)
		for _, e := range a.Events {
			for _, v := range userRefs(e) {
				add(v)
			}
		}
		if a.Via.Channel == "user_merge" {
			add(anyInt(a.Via.Source.From["user_id"]))
			add(anyInt(a.Via.Source.To["user_id"]))
		}
	}
	users, err := s.usersByID(ctx, ids)
	if err != nil {
		return err
	}
	p := TicketPage{Layout: s.layout(r, fmt.Sprintf("#%d %s", t.ID, t.Subject), "tickets"), Ticket: t,
		Requester: users[t.RequesterID]}
	if t.AssigneeID != nil {
		p.Assignee = users[*t.AssigneeID]
	}
	for _, c := range t.EmailCCIDs {
		if u := users[c]; u != nil {
			p.CCs = append(p.CCs, u)
		}
	}
	if t.OrganizationID != nil {
		if p.Organization, err = s.DB.Organization(ctx, *t.OrganizationID); err != nil && mergedesk.ErrorCode(err) != mergedesk.ENotFound {
			return err
		}
	}
	for i := range comments {
		p.Comments = append(p.Comments, CommentRow{Comment: &comments[i], Author: users[comments[i].AuthorID]})
	}
	for _, a := range audits {
		row := AuditRow{Audit: a, Author: users[a.AuthorID], Via: viaLabel(a.Via.Channel)}
		if a.Via.Channel == "user_merge" {
			row.Merge = true
			row.From, row.To = users[anyInt(a.Via.Source.From["user_id"])], users[anyInt(a.Via.Source.To["user_id"])]
		}
		for _, e := range a.Events {
			row.Events = append(row.Events, eventRow(e, users))
		}
		p.Audits = append(p.Audits, row)
	}
	return s.render(w, http.StatusOK, "ticket", "layout", p)
}

// userRefs lists the user ids an event names.
func userRefs(e mergedesk.Event) []int64 {
	var out []int64
	switch e.Type {
	case "Create", "Change":
		if f, _ := e.Fields["field_name"].(string); f == "requester_id" || f == "assignee_id" || f == "submitter_id" {
			out = append(out, anyInt(e.Fields["value"]), anyInt(e.Fields["previous_value"]))
		}
	case "EmailCcChange", "FollowerChange":
		for _, k := range []string{"previous_email_ccs", "current_email_ccs", "previous_followers", "current_followers"} {
			for _, v := range anyList(e.Fields[k]) {
				out = append(out, anyInt(v))
			}
		}
	case "Comment":
		out = append(out, anyInt(e.Fields["author_id"]))
	}
	return out
}

func anyInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func anyList(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return nil
}

func anyText(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if x == "" {
			return "(none)"
		}
		return x
	case []any:
		ss := make([]string, len(x))
		for i, e := range x {
			ss[i] = fmt.Sprint(e)
		}
		if len(ss) == 0 {
			return "(none)"
		}
		return strings.Join(ss, ", ")
	}
	return fmt.Sprint(v)
}

func userPart(users map[int64]*mergedesk.User, v any) Part {
	id := anyInt(v)
	if id == 0 {
		return Part{Text: "(nobody)"}
	}
	if u := users[id]; u != nil {
		return Part{Text: u.Name, Href: fmt.Sprintf("/users/%d", id)}
	}
	return Part{Text: fmt.Sprintf("user %d", id)}
}

func userListParts(users map[int64]*mergedesk.User, v any) []Part {
	list := anyList(v)
	if len(list) == 0 {
		return []Part{{Text: "(none)"}}
	}
	var out []Part
	for i, x := range list {
		if i > 0 {
			out = append(out, Part{Text: ", "})
		}
		out = append(out, userPart(users, x))
	}
	return out
}

func eventRow(e mergedesk.Event, users map[int64]*mergedesk.User) EventRow {
	row := EventRow{Type: e.Type}
	field, _ := e.Fields["field_name"].(string)
	isUser := field == "requester_id" || field == "assignee_id" || field == "submitter_id"
	val := func(v any) []Part {
		if isUser {
			return []Part{userPart(users, v)}
		}
		return []Part{{Text: anyText(v)}}
	}
	switch e.Type {
	case "Create":
		row.Parts = append([]Part{{Text: fieldLabel(field) + " set to "}}, val(e.Fields["value"])...)
	case "Change":
		row.Parts = append([]Part{{Text: fieldLabel(field) + " changed from "}}, val(e.Fields["previous_value"])...)
		row.Parts = append(row.Parts, Part{Text: " to "})
		row.Parts = append(row.Parts, val(e.Fields["value"])...)
	case "EmailCcChange":
		row.Parts = append([]Part{{Text: "CCs changed from "}}, userListParts(users, e.Fields["previous_email_ccs"])...)
		row.Parts = append(row.Parts, Part{Text: " to "})
		row.Parts = append(row.Parts, userListParts(users, e.Fields["current_email_ccs"])...)
	case "FollowerChange":
		row.Parts = append([]Part{{Text: "Followers changed from "}}, userListParts(users, e.Fields["previous_followers"])...)
		row.Parts = append(row.Parts, Part{Text: " to "})
		row.Parts = append(row.Parts, userListParts(users, e.Fields["current_followers"])...)
	case "Comment":
		kind := "Public comment"
		if pub, ok := e.Fields["public"].(bool); ok && !pub {
			kind = "Internal note"
		}
		row.Parts = []Part{{Text: kind + " by "}, userPart(users, e.Fields["author_id"])}
		row.Body, _ = e.Fields["body"].(string)
	case "Notification":
		row.Parts = []Part{{Text: "Notification: " + anyText(e.Fields["subject"])}}
	case "External":
		row.Parts = []Part{{Text: "Webhook " + anyText(e.Fields["resource"]) + " notified"}}
	default:
		row.Parts = []Part{{Text: e.Type}}
	}
	return row
}

func viaLabel(channel string) string {
	switch channel {
	case "user_merge":
		return "user merge"
	case "web":
		return "agent UI"
	case "api":
		return "API"
	case "rule":
		return "trigger"
	case "":
		return "unknown"
	}
	return channel
}

// OrganizationsPage lists organizations.
type OrganizationsPage struct {
	Layout
	Organizations []*mergedesk.Organization
	Paging        Paging
}

func (s *Server) organizations(w http.ResponseWriter, r *http.Request) error {
	page := pageParam(r)
	orgs, info, err := s.DB.Organizations(r.Context(), mergedesk.OrganizationFilter{}, mergedesk.Page{Size: pageSize, Offset: (page - 1) * pageSize})
	if err != nil {
		return err
	}
	p := OrganizationsPage{Layout: s.layout(r, "Organizations", "organizations"), Organizations: orgs,
		Paging: paging("/organizations", url.Values{}, page, info.Total, pageSize)}
	return s.render(w, http.StatusOK, "organizations", "layout", p)
}

// StatusGroup is an organization's tickets of one status.
type StatusGroup struct {
	Status string
	Rows   []TicketRow
}

// OrganizationPage is one organization with its members and tickets.
type OrganizationPage struct {
	Layout
	Organization *mergedesk.Organization
	Members      []CustomerRow
	MemberTotal  int
	Groups       []StatusGroup
	TicketTotal  int
	Truncated    bool
}

// maxOrgTickets bounds the tickets an organization page reads.
const maxOrgTickets = 1000

func (s *Server) organizationPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	org, err := s.DB.Organization(ctx, id)
	if err != nil {
		return err
	}
	members, minfo, err := s.DB.Users(ctx, mergedesk.UserFilter{OrgID: &id}, mergedesk.Page{Size: 100})
	if err != nil {
		return err
	}
	p := OrganizationPage{Layout: s.layout(r, org.Name, "organizations"), Organization: org, MemberTotal: minfo.Total}
	for _, u := range members {
		p.Members = append(p.Members, customerRow(u))
	}
	var all []*mergedesk.Ticket
	for offset := 0; offset < maxOrgTickets; offset += 100 {
		ts, info, err := s.DB.Tickets(ctx, mergedesk.TicketFilter{OrganizationID: &id, SortBy: "updated_at"}, mergedesk.Page{Size: 100, Offset: offset, Desc: true})
		if err != nil {
			return err
		}
		all = append(all, ts...)
		p.TicketTotal = info.Total
		if !info.HasMore {
			break
		}
	}
	p.Truncated = len(all) < p.TicketTotal
	rows, err := s.ticketRows(ctx, all)
	if err != nil {
		return err
	}
	for _, st := range mergedesk.TicketStatuses {
		g := StatusGroup{Status: st}
		for _, row := range rows {
			if row.Ticket.Status == st {
				g.Rows = append(g.Rows, row)
			}
		}
		if len(g.Rows) > 0 {
			p.Groups = append(p.Groups, g)
		}
	}
	return s.render(w, http.StatusOK, "organization", "layout", p)
}

func identityLabel(typ string) string {
	switch typ {
	case mergedesk.IdentityEmail:
		return "Email"
	case mergedesk.IdentityPhone:
		return "Phone"
	case mergedesk.IdentityTwitter:
		return "X (Twitter)"
	case mergedesk.IdentityFacebook:
		return "Facebook"
	case mergedesk.IdentityGoogle:
		return "Google"
	case mergedesk.IdentityMessaging:
		return "Messaging"
	case mergedesk.IdentitySDK:
		return "SDK"
	case mergedesk.IdentityAnyChannel:
		return "Other channel"
	}
	return typ
}

var fieldLabels = map[string]string{
	"name": "Name", "email": "Primary email", "emails": "Email addresses", "phone": "Direct line",
	"phone_numbers": "Phone numbers", "shared_phone_number": "Shared phone number", "identities": "Other channels",
	"locale": "Language", "time_zone": "Time zone", "organization_id": "Default organization",
	"organizations": "Organizations", "tags": "Tags", "details": "Details", "notes": "Notes", "photo": "Photo",
	"user_fields": "User fields", "external_id": "External ID", "help_center": "Help center contributions",
	"requester_id": "Requester", "assignee_id": "Assignee", "submitter_id": "Submitter", "status": "Status",
	"subject": "Subject", "priority": "Priority", "type": "Type", "group_id": "Group",
}

func fieldLabel(f string) string {
	if l, ok := fieldLabels[f]; ok {
		return l
	}
	return strings.ReplaceAll(f, "_", " ")
}
