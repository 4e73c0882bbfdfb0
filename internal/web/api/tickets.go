package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
)

// ticketBody is the writable part of a ticket in a request (docs/api.md §6.1, §6.2,
// §6.4). Read-only fields (id, url, via, collaborator_ids, ...) are ignored.
type ticketBody struct {
	Subject                 Opt[string]            `json:"subject"`
	RawSubject              Opt[string]            `json:"raw_subject"`
	ExternalID              Opt[string]            `json:"external_id"`
	Type                    Opt[string]            `json:"type"`
	Priority                Opt[string]            `json:"priority"`
	Status                  Opt[string]            `json:"status"`
	RequesterID             Ref                    `json:"requester_id"`
	Requester               *requesterBody         `json:"requester"`
	SubmitterID             Ref                    `json:"submitter_id"`
	AssigneeID              Ref                    `json:"assignee_id"`
	GroupID                 Ref                    `json:"group_id"`
	OrganizationID          Ref                    `json:"organization_id"`
	Tags                    Opt[[]string]          `json:"tags"`
	CustomFields            []customFieldBody      `json:"custom_fields"`
	Fields                  []customFieldBody      `json:"fields"`
	Collaborators           Opt[[]json.RawMessage] `json:"collaborators"`
	EmailCCs                []json.RawMessage      `json:"email_ccs"`
	AdditionalCollaborators []json.RawMessage      `json:"additional_collaborators"`
	Followers               []json.RawMessage      `json:"followers"`
	Comment                 *commentBody           `json:"comment"`
	Description             Opt[string]            `json:"description"`
	SafeUpdate              Opt[bool]              `json:"safe_update"`
	UpdatedStamp            Time                   `json:"updated_stamp"`

	// Imports only.
	Comments  []commentBody `json:"comments"`
	CreatedAt Time          `json:"created_at"`
	UpdatedAt Time          `json:"updated_at"`
	SolvedAt  Time          `json:"solved_at"`
}

type requesterBody struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	LocaleID Int    `json:"locale_id"`
	Locale   string `json:"locale"`
}

type customFieldBody struct {
	ID    Int `json:"id"`
	Value any `json:"value"`
}

type commentBody struct {
	Body      Opt[string] `json:"body"`
	Value     Opt[string] `json:"value"` // import alias of body
	HTMLBody  Opt[string] `json:"html_body"`
	Public    Opt[bool]   `json:"public"`
	AuthorID  Ref         `json:"author_id"`
	CreatedAt Time        `json:"created_at"`
}

func (c *commentBody) input() mergedesk.CommentInput {
	in := mergedesk.CommentInput{Body: c.Body.V, HTMLBody: c.HTMLBody.V, Public: c.Public.Ptr()}
	if in.Body == "" {
		in.Body = c.Value.V
	}
	if p := refPtr(c.AuthorID); p != nil {
		in.AuthorID = *p
	}
	if c.CreatedAt.Set {
		in.CreatedAt = c.CreatedAt.T
	}
	return in
}

// input converts a ticket body; importing enables the import-only fields.
func (b *ticketBody) input(importing bool) (mergedesk.TicketInput, error) {
	in := mergedesk.TicketInput{Type: strUpdate(b.Type), Priority: strUpdate(b.Priority), ExternalID: strUpdate(b.ExternalID),
		AssigneeID: refUpdate(b.AssigneeID), GroupID: refUpdate(b.GroupID), OrganizationID: refUpdate(b.OrganizationID),
		RequesterID: refPtr(b.RequesterID), SubmitterID: refPtr(b.SubmitterID), SafeUpdate: b.SafeUpdate.V}
	switch {
	case b.Subject.Set && !b.Subject.Null:
		in.Subject = &b.Subject.V
	case b.RawSubject.Set && !b.RawSubject.Null:
		in.Subject = &b.RawSubject.V
	}
	if b.Status.Set && !b.Status.Null && b.Status.V != "" {
		st := strings.ToLower(b.Status.V)
		in.Status = &st
	}
	if b.Tags.Set && !b.Tags.Null {
		in.Tags = &b.Tags.V
	}
	for _, f := range append(b.CustomFields, b.Fields...) {
		if f.ID <= 0 {
			return in, mergedesk.Invalid("custom_fields", mergedesk.CodeInvalid, "Custom fields: each field needs an id")
		}
		v, ok := fieldValue(f.Value)
		if !ok {
			return in, mergedesk.Invalid("custom_fields", mergedesk.CodeInvalid,
				"Custom fields: the value of field %d must be a string, boolean, null or list of strings", f.ID)
		}
		in.CustomFields = append(in.CustomFields, mergedesk.CustomField{ID: int64(f.ID), Value: v})
	}
	if b.Requester != nil {
		rq := mergedesk.RequesterInput{Name: b.Requester.Name, Email: b.Requester.Email, LocaleID: int64(b.Requester.LocaleID)}
		if b.Requester.Locale != "" {
			l := mergedesk.LocaleByName(b.Requester.Locale)
			if l == nil {
				return in, mergedesk.Invalid("requester", mergedesk.CodeInvalid, "Requester: %q is not a supported locale", b.Requester.Locale)
			}
			rq.LocaleID = l.ID
		}
		in.Requester = &rq
	}
	var err error
	if b.Collaborators.Set && !b.Collaborators.Null {
		refs, err := ccRefs(b.Collaborators.V, "collaborators")
		if err != nil {
			return in, err
		}
		in.Collaborators = &refs
	}
	if in.EmailCCs, err = ccRefs(b.EmailCCs, "email_ccs"); err != nil {
		return in, err
	}
	if in.AdditionalCollaborators, err = ccRefs(b.AdditionalCollaborators, "additional_collaborators"); err != nil {
		return in, err
	}
	if in.Followers, err = ccRefs(b.Followers, "followers"); err != nil {
		return in, err
	}
	if b.Comment != nil {
		c := b.Comment.input()
		in.Comment = &c
	}
	if b.Description.Set && !b.Description.Null {
		in.Description = &b.Description.V
	}
	if b.UpdatedStamp.Set {
		in.UpdatedStamp = &b.UpdatedStamp.T
	}
	if importing {
		for i := range b.Comments {
			in.Comments = append(in.Comments, b.Comments[i].input())
		}
		in.CreatedAt, in.UpdatedAt, in.SolvedAt = timePtr(b.CreatedAt), timePtr(b.UpdatedAt), timePtr(b.SolvedAt)
	}
	return in, nil
}

func timePtr(t Time) *time.Time {
	if !t.Set {
		return nil
	}
	v := t.T
	return &v
}

// ccRefs reads CC list items in every form Zendesk takes: an id, an email,
// {"name","email"}, or {"user_id"|"user_email","user_name","action":"put"|"delete"}.
func ccRefs(items []json.RawMessage, field string) ([]mergedesk.CCRef, error) {
	var out []mergedesk.CCRef
	for _, raw := range items {
		raw = bytes.TrimSpace(raw)
		bad := mergedesk.Invalid(field, mergedesk.CodeInvalid, "%s: %s is not a user id, an email or a user object",
			fieldLabel(field), truncate(string(raw), 60))
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		switch raw[0] {
		case '{':
			var o struct {
				UserID    Int    `json:"user_id"`
				ID        Int    `json:"id"`
				UserEmail string `json:"user_email"`
				Email     string `json:"email"`
				UserName  string `json:"user_name"`
				Name      string `json:"name"`
				Action    string `json:"action"`
			}
			if err := decodeBytes(raw, &o); err != nil {
				return nil, bad
			}
			ref := mergedesk.CCRef{UserID: int64(o.UserID), Email: o.UserEmail, Name: o.UserName,
				Delete: strings.EqualFold(o.Action, "delete")}
			if ref.UserID == 0 {
				ref.UserID = int64(o.ID)
			}
			if ref.Email == "" {
				ref.Email = o.Email
			}
			if ref.Name == "" {
				ref.Name = o.Name
			}
			if ref.UserID == 0 && strings.TrimSpace(ref.Email) == "" {
				return nil, bad
			}
			out = append(out, ref)
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, bad
			}
			s = strings.TrimSpace(s)
			if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
				out = append(out, mergedesk.CCRef{UserID: id})
			} else if strings.Contains(s, "@") {
				out = append(out, mergedesk.CCRef{Email: s})
			} else {
				return nil, bad
			}
		default:
			var n Int
			if err := n.UnmarshalJSON(raw); err != nil || n <= 0 {
				return nil, bad
			}
			out = append(out, mergedesk.CCRef{UserID: int64(n)})
		}
	}
	return out, nil
}

// fieldLabel is the human name of a request field.
func fieldLabel(field string) string {
	s := strings.ReplaceAll(field, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

type ticketEnvelope struct {
	Ticket *ticketBody `json:"ticket"`
}

func decodeTicket(r *http.Request) (*ticketBody, error) {
	var env ticketEnvelope
	if err := decode(r, &env); err != nil {
		return nil, err
	}
	if env.Ticket == nil {
		return nil, mergedesk.Errorf(mergedesk.EParamMissing, "ticket parameter is missing")
	}
	return env.Ticket, nil
}

// writer is the author and via of a ticket write made through this API.
func writer(ctx context.Context) mergedesk.TicketWriter {
	return mergedesk.TicketWriter{ActorID: callerFrom(ctx).ID, Via: mergedesk.NewVia("api")}
}

func (s *Server) ticketRoutes() {
	s.handle("GET /tickets", Staff, s.listTickets)
	s.handle("GET /tickets/show_many", Staff, s.showManyTickets)
	s.handle("GET /tickets/{id}", Staff, s.getTicket)
	s.handle("POST /tickets", Staff, s.createTicket)
	s.handle("PUT /tickets/{id}", Staff, s.updateTicket)
	s.handle("DELETE /tickets/{id}", Staff, s.deleteTicket)
	s.handle("POST /tickets/create_many", Staff, s.bulkTickets(JobCreateTickets))
	s.handle("GET /users/{id}/tickets/requested", Staff, s.userTickets(func(f *mergedesk.TicketFilter, id int64) { f.RequesterID = &id }))
	s.handle("GET /users/{id}/tickets/ccd", Staff, s.userTickets(func(f *mergedesk.TicketFilter, id int64) { f.CCUserID = &id }))
	s.handle("GET /users/{id}/tickets/assigned", Staff, s.userTickets(func(f *mergedesk.TicketFilter, id int64) { f.AssigneeID = &id }))
	s.handle("GET /organizations/{id}/tickets", Staff, s.organizationTickets)
	s.handle("POST /imports/tickets", Admin, s.importTicket)
	s.handle("POST /imports/tickets/create_many", Admin, s.bulkTickets(JobImportTickets))
}

func (s *Server) registerTicketJobs() {
	s.Jobs.Handle(JobCreateTickets, s.ticketJobItem(false))
	s.Jobs.Handle(JobImportTickets, s.ticketJobItem(true))
}

// ticketFilter reads the list parameters shared by every ticket list.
func ticketFilter(r *http.Request) (mergedesk.TicketFilter, mergedesk.Page, error) {
	p, err := pageParams(r)
	if err != nil {
		return mergedesk.TicketFilter{}, p, err
	}
	q := r.URL.Query()
	var f mergedesk.TicketFilter
	// An unknown sort_by is ignored like any unknown parameter: id order.
	switch sb := q.Get("sort_by"); sb {
	case "created_at", "updated_at", "status", "priority":
		f.SortBy = sb
	}
	p.Desc = strings.EqualFold(q.Get("sort_order"), "desc")
	if e := q.Get("external_id"); e != "" {
		f.ExternalID = &e
	}
	return f, p, nil
}

func (s *Server) writeTickets(w http.ResponseWriter, r *http.Request, f mergedesk.TicketFilter, p mergedesk.Page) error {
	ts, info, err := s.DB.Tickets(r.Context(), f, p)
	if err != nil {
		return err
	}
	first, last := ends(ts, func(t *mergedesk.Ticket) int64 { return t.ID })
	return s.list(w, r, "tickets", s.ticketsView(r, ts), p, info, first, last)
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) error {
	f, p, err := ticketFilter(r)
	if err != nil {
		return err
	}
	return s.writeTickets(w, r, f, p)
}

func (s *Server) userTickets(set func(*mergedesk.TicketFilter, int64)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if _, err := s.DB.User(r.Context(), id); err != nil {
			return err
		}
		f, p, err := ticketFilter(r)
		if err != nil {
			return err
		}
		set(&f, id)
		return s.writeTickets(w, r, f, p)
	}
}

func (s *Server) organizationTickets(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := s.DB.Organization(r.Context(), id); err != nil {
		return err
	}
	f, p, err := ticketFilter(r)
	if err != nil {
		return err
	}
	f.OrganizationID = &id
	return s.writeTickets(w, r, f, p)
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := s.DB.Ticket(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"ticket": s.ticketView(r, t)})
}

func (s *Server) showManyTickets(w http.ResponseWriter, r *http.Request) error {
	ids, err := idList(r.URL.Query().Get("ids"))
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return mergedesk.Errorf(mergedesk.EParamMissing, "ids is required")
	}
	ts, err := s.DB.TicketsByIDs(r.Context(), ids)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tickets": s.ticketsView(r, ts), "next_page": nil,
		"previous_page": nil, "count": len(ts)})
}

// writeTicketAudit writes {ticket, audit} (audit null when the write changed nothing).
func (s *Server) writeTicketAudit(w http.ResponseWriter, r *http.Request, status int, t *mergedesk.Ticket, a *mergedesk.Audit) error {
	if status == http.StatusCreated {
		w.Header().Set("Location", s.ticketURL(r, t.ID))
	}
	var audit *auditJSON
	if a != nil {
		audit = auditView(a)
	}
	return writeJSON(w, status, map[string]any{"ticket": s.ticketView(r, t), "audit": audit})
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeTicket(r)
	if err != nil {
		return err
	}
	in, err := b.input(false)
	if err != nil {
		return err
	}
	t, a, err := s.DB.CreateTicket(r.Context(), in, writer(r.Context()))
	if err != nil {
		return err
	}
	return s.writeTicketAudit(w, r, http.StatusCreated, t, a)
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	b, err := decodeTicket(r)
	if err != nil {
		return err
	}
	in, err := b.input(false)
	if err != nil {
		return err
	}
	t, a, err := s.DB.UpdateTicket(r.Context(), id, in, writer(r.Context()))
	if err != nil {
		return err
	}
	return s.writeTicketAudit(w, r, http.StatusOK, t, a)
}

func (s *Server) deleteTicket(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeleteTicket(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

func archiveImmediately(r *http.Request) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get("archive_immediately"))
	return v
}

func (s *Server) importTicket(w http.ResponseWriter, r *http.Request) error {
	b, err := decodeTicket(r)
	if err != nil {
		return err
	}
	in, err := b.input(true)
	if err != nil {
		return err
	}
	t, err := s.DB.ImportTicket(r.Context(), in, callerFrom(r.Context()).ID, archiveImmediately(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.ticketURL(r, t.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"ticket": s.ticketView(r, t)})
}

// ticketJobItem is one item of a job: the ticket object, wrapped with the
// options of the request that queued it.
type ticketJobItem struct {
	Ticket  json.RawMessage `json:"ticket"`
	Archive bool            `json:"archive_immediately,omitempty"`
}

// bulkTickets queues {"tickets":[…]} (at most 100) as a job (docs/api.md §8).
func (s *Server) bulkTickets(jobType string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var env map[string]json.RawMessage
		if err := decode(r, &env); err != nil {
			return err
		}
		raw, ok := env["tickets"]
		if !ok || string(raw) == "null" {
			return mergedesk.Errorf(mergedesk.EParamMissing, "tickets parameter is missing")
		}
		var tickets []json.RawMessage
		if err := decodeBytes(raw, &tickets); err != nil {
			return err
		}
		if len(tickets) > MaxBulkItems {
			return mergedesk.Errorf(mergedesk.ETooManyValues, "tickets: at most %d items are allowed, got %d", MaxBulkItems, len(tickets))
		}
		archive := jobType == JobImportTickets && archiveImmediately(r)
		items := make([]json.RawMessage, len(tickets))
		for i, t := range tickets {
			b, err := json.Marshal(ticketJobItem{Ticket: t, Archive: archive})
			if err != nil {
				return err
			}
			items[i] = b
		}
		j, err := s.DB.CreateJob(r.Context(), jobType, callerFrom(r.Context()).ID, items)
		if err != nil {
			return err
		}
		s.Jobs.Wake()
		return writeJSON(w, http.StatusOK, map[string]any{"job_status": s.jobView(r, j)})
	}
}

func (s *Server) ticketJobItem(importing bool) func(ctx context.Context, owner int64, item json.RawMessage) map[string]any {
	return func(ctx context.Context, owner int64, item json.RawMessage) map[string]any {
		ctx, err := s.jobContext(ctx, owner)
		if err != nil {
			return jobFailure(err)
		}
		var it ticketJobItem
		if err := decodeBytes(item, &it); err != nil {
			return jobFailure(err)
		}
		var b ticketBody
		if err := decodeBytes(it.Ticket, &b); err != nil {
			return jobFailure(err)
		}
		in, err := b.input(importing)
		if err != nil {
			return jobFailure(err)
		}
		var t *mergedesk.Ticket
		if importing {
			if err := mergedesk.RequireAdmin(&callerFrom(ctx).Principal); err != nil {
				return jobFailure(err)
			}
			t, err = s.DB.ImportTicket(ctx, in, owner, it.Archive)
		} else {
			t, _, err = s.DB.CreateTicket(ctx, in, writer(ctx))
		}
		if err != nil {
			return jobFailure(err)
		}
		return map[string]any{"id": t.ID, "status": "Created", "success": true}
	}
}
