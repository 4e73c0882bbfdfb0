package api

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mergedesk/mergedesk"
)

func (s *Server) auditRoutes() {
	s.handle("GET /tickets/{id}/audits", Staff, s.listTicketAudits)
	s.handle("GET /tickets/{id}/audits/count", Staff, s.countTicketAudits)
	s.handle("GET /tickets/{id}/audits/{audit_id}", Staff, s.getTicketAudit)
	s.handle("GET /tickets/{id}/comments", Staff, s.listTicketComments)
	s.handle("GET /ticket_audits", Admin, s.listAllAudits)
}

func (s *Server) listTicketAudits(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	as, info, err := s.DB.TicketAudits(r.Context(), id, p)
	if err != nil {
		return err
	}
	first, last := ends(as, func(a *mergedesk.Audit) int64 { return a.ID })
	return s.list(w, r, "audits", auditsView(as), p, info, first, last)
}

func (s *Server) countTicketAudits(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	n, err := s.DB.TicketAuditCount(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"count": map[string]any{"value": n, "refreshed_at": ts(time.Now().UTC().Truncate(time.Second))}})
}

func (s *Server) getTicketAudit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	aid, err := pathID(r, "audit_id")
	if err != nil {
		return err
	}
	a, err := s.DB.TicketAudit(r.Context(), id, aid)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"audit": auditView(a)})
}

func (s *Server) listTicketComments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	p.Desc = strings.EqualFold(r.URL.Query().Get("sort_order"), "desc")
	cs, info, err := s.DB.TicketComments(r.Context(), id, p)
	if err != nil {
		return err
	}
	out := make([]commentJSON, len(cs))
	for i, c := range cs {
		out[i] = commentView(c)
	}
	first, last := ends(cs, func(c mergedesk.Comment) int64 { return c.ID })
	return s.list(w, r, "comments", out, p, info, first, last)
}

// listAllAudits serves GET /ticket_audits: cursor paging only. With page[...]
// parameters it answers meta/links; without them, the legacy cursor/limit form
// go-zendesk's GetAllTicketAudits reads (docs/api.md §7.2).
func (s *Server) listAllAudits(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	desc := strings.EqualFold(q.Get("sort_order"), "desc")
	if q.Has("page[size]") || q.Has("page[after]") || q.Has("page[before]") {
		p, err := pageParams(r)
		if err != nil {
			return err
		}
		p.Desc = desc
		as, info, err := s.DB.AllAudits(r.Context(), p)
		if err != nil {
			return err
		}
		first, last := ends(as, func(a *mergedesk.Audit) int64 { return a.ID })
		return s.list(w, r, "audits", auditsView(as), p, info, first, last)
	}
	p := mergedesk.Page{Cursor: true, Size: clampSize(q.Get("limit")), Desc: desc}
	if c := q.Get("cursor"); c != "" {
		before, id, err := decodeLegacyCursor(c)
		if err != nil {
			return err
		}
		if before {
			p.Before = id
		} else {
			p.After = id
		}
	}
	as, info, err := s.DB.AllAudits(r.Context(), p)
	if err != nil {
		return err
	}
	out := map[string]any{"audits": auditsView(as), "before_cursor": nil, "after_cursor": nil, "before_url": nil, "after_url": nil}
	first, last := ends(as, func(a *mergedesk.Audit) int64 { return a.ID })
	u := s.requestURL(r)
	if info.HasMore && last != 0 {
		c := encodeLegacyCursor(false, last)
		out["after_cursor"], out["after_url"] = c, withQuery(u, map[string]string{"cursor": c})
	}
	if info.HasPrev && first != 0 {
		c := encodeLegacyCursor(true, first)
		out["before_cursor"], out["before_url"] = c, withQuery(u, map[string]string{"cursor": c})
	}
	return writeJSON(w, http.StatusOK, out)
}

// Legacy cursors carry their direction: base64url of "a:<id>" (after) or
// "b:<id>" (before).
func encodeLegacyCursor(before bool, id int64) string {
	dir := "a:"
	if before {
		dir = "b:"
	}
	return base64.RawURLEncoding.EncodeToString([]byte(dir + strconv.FormatInt(id, 10)))
}

func decodeLegacyCursor(s string) (before bool, id int64, err error) {
	b, derr := base64.RawURLEncoding.DecodeString(s)
	if derr == nil && len(b) > 2 && (string(b[:2]) == "a:" || string(b[:2]) == "b:") {
		if n, perr := strconv.ParseInt(string(b[2:]), 10, 64); perr == nil && n > 0 {
			return string(b[:2]) == "b:", n, nil
		}
	}
	return false, 0, mergedesk.Errorf(mergedesk.EBadCursor, "cursor %q is invalid", truncate(s, 40))
}
