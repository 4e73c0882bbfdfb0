package api

import (
	"net/http"

	"github.com/mergedesk/mergedesk/internal/search"
)

// searchObjects renders the records of one kind for search results, keyed by id,
// each carrying result_type (go-zendesk rejects a page where one lacks it).
func (s *Server) searchObjects(r *http.Request, kind string, ids []int64) (map[int64]any, error) {
	out := map[int64]any{}
	switch kind {
	case search.KindUser:
		users, err := s.DB.UsersByIDs(r.Context(), ids)
		if err != nil {
			return nil, err
		}
		tagging := s.tagging(r.Context())
		for _, u := range users {
			j := s.fullUser(r, u, tagging)
			j.ResultType = "user"
			out[u.ID] = j
		}
	case search.KindTicket:
		tickets, err := s.DB.TicketsByIDs(r.Context(), ids)
		if err != nil {
			return nil, err
		}
		for _, t := range tickets {
			j := s.ticketView(r, t)
			j.ResultType = "ticket"
			out[t.ID] = j
		}
	case search.KindOrganization:
		orgs, err := s.DB.OrganizationsByIDs(r.Context(), ids)
		if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			j := s.organizationView(r, o)
			j.ResultType = "organization"
			out[o.ID] = j
		}
	case search.KindGroup:
		groups, err := s.DB.GroupsByIDs(r.Context(), ids)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			j := s.groupView(r, g)
			j.ResultType = "group"
			out[g.ID] = j
		}
	}
	return out, nil
}
