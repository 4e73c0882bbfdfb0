package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/search"
)

// maxSearchResults bounds offset paging into search results, as Zendesk does.
const maxSearchResults = 1000

func (s *Server) searchRoutes() {
	s.handle("GET /search", Staff, s.search)
	s.handle("GET /search/count", Staff, s.searchCount)
	s.handle("GET /users/search", Staff, s.searchUsers)
}

// parseQuery parses the query parameter; a query the grammar refuses is a 400.
func parseQuery(r *http.Request) (search.Query, error) {
	q, err := search.Parse(r.URL.Query().Get("query"))
	if err != nil {
		return q, mergedesk.Errorf(mergedesk.EParamMissing, "query: %v", err)
	}
	return q, nil
}

// searchPage reads offset paging (search is offset only) and checks the window.
func searchPage(r *http.Request) (mergedesk.Page, error) {
	q := r.URL.Query()
	p := mergedesk.Page{Size: clampSize(q.Get("per_page"))}
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	p.Offset = (page - 1) * p.Size
	if p.Offset >= maxSearchResults {
		return p, mergedesk.Errorf(mergedesk.EBadCursor, "search results are limited to the first %d", maxSearchResults)
	}
	return p, nil
}

func (s *Server) region(ctx context.Context) string {
	st, err := s.DB.Settings(ctx)
	if err != nil {
		return "US"
	}
	return st.Phone.DefaultRegion
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := searchPage(r)
	if err != nil {
		return err
	}
	var users []*mergedesk.User
	total := 0
	if ext := r.URL.Query().Get("external_id"); ext != "" {
		u, err := s.DB.UserByExternalID(r.Context(), ext)
		if err != nil && mergedesk.ErrorCode(err) != mergedesk.ENotFound {
			return err
		}
		if u != nil {
			users, total = []*mergedesk.User{u}, 1
		}
	} else {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		qs := r.URL.Query()
		if users, total, err = s.DB.SearchUserPage(r.Context(), q.WithoutType(), s.region(r.Context()), qs.Get("sort_by"), qs.Get("sort_order"), p.Size, p.Offset); err != nil {
			return err
		}
	}
	info := mergedesk.PageInfo{Total: total, HasMore: p.Offset+len(users) < total && p.Offset+p.Size < maxSearchResults, HasPrev: p.Offset > 0}
	return s.writeUsers(w, r, users, p, info)
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	p, err := searchPage(r)
	if err != nil {
		return err
	}
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	hits, total, err := s.DB.SearchAll(r.Context(), q.WithoutType(), s.region(r.Context()), q.Types(), qs.Get("sort_by"), qs.Get("sort_order"), p.Size, p.Offset)
	if err != nil {
		return err
	}
	results, err := s.renderHits(r, hits)
	if err != nil {
		return err
	}
	info := mergedesk.PageInfo{Total: total, HasMore: p.Offset+len(hits) < total && p.Offset+p.Size < maxSearchResults, HasPrev: p.Offset > 0}
	out := s.pageKeys(r, p, info, 0, 0)
	out["results"] = results
	out["facets"] = nil
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) searchCount(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	_, total, err := s.DB.SearchAll(r.Context(), q.WithoutType(), s.region(r.Context()), q.Types(), "", "", 0, 0)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"count": total})
}

// renderHits loads each kind's records in one batch and renders them in hit
// order, each with its result_type.
func (s *Server) renderHits(r *http.Request, hits []mergedesk.SearchHit) ([]any, error) {
	byKind := map[string][]int64{}
	for _, h := range hits {
		byKind[h.Kind] = append(byKind[h.Kind], h.ID)
	}
	rendered := map[mergedesk.SearchHit]any{}
	for kind, ids := range byKind {
		objs, err := s.searchObjects(r, kind, ids)
		if err != nil {
			return nil, err
		}
		for id, o := range objs {
			rendered[mergedesk.SearchHit{Kind: kind, ID: id}] = o
		}
	}
	out := make([]any, 0, len(hits))
	for _, h := range hits {
		if o, ok := rendered[h]; ok {
			out = append(out, o)
		}
	}
	return out, nil
}
