package api

import (
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// groupJSON is the group object of docs/api.md §5.
type groupJSON struct {
	ID          int64   `json:"id"`
	URL         string  `json:"url"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Default     bool    `json:"default"`
	Deleted     bool    `json:"deleted"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	// ResultType is set in search results only.
	ResultType string `json:"result_type,omitempty"`
}

func (s *Server) groupURL(r *http.Request, id int64) string {
	return s.url(r, "/groups/"+strconv.FormatInt(id, 10))
}

func (s *Server) groupView(r *http.Request, g *mergedesk.Group) *groupJSON {
	return &groupJSON{ID: g.ID, URL: s.groupURL(r, g.ID), Name: g.Name, Description: g.Description,
		Default: g.Default, Deleted: g.Deleted, CreatedAt: ts(g.CreatedAt), UpdatedAt: ts(g.UpdatedAt)}
}

// groupBody is the writable part of a group in a request.
type groupBody struct {
	Name        Opt[string] `json:"name"`
	Description Opt[string] `json:"description"`
	Default     Opt[bool]   `json:"default"`
}

func decodeGroup(r *http.Request) (mergedesk.GroupWrite, error) {
	var env struct {
		Group *groupBody `json:"group"`
	}
	if err := decode(r, &env); err != nil {
		return mergedesk.GroupWrite{}, err
	}
	b := env.Group
	if b == nil {
		return mergedesk.GroupWrite{}, mergedesk.Errorf(mergedesk.EParamMissing, "group parameter is missing")
	}
	return mergedesk.GroupWrite{Name: b.Name.Ptr(), Description: strUpdate(b.Description), Default: b.Default.Ptr()}, nil
}

func (s *Server) groupRoutes() {
	s.handle("GET /groups", Staff, s.listGroups)
	s.handle("GET /groups/{id}", Staff, s.getGroup)
	s.handle("POST /groups", Admin, s.createGroup)
	s.handle("PUT /groups/{id}", Admin, s.updateGroup)
	s.handle("DELETE /groups/{id}", Admin, s.deleteGroup)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	gs, info, err := s.DB.Groups(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]*groupJSON, len(gs))
	for i, g := range gs {
		out[i] = s.groupView(r, g)
	}
	first, last := ends(gs, func(g *mergedesk.Group) int64 { return g.ID })
	return s.list(w, r, "groups", out, p, info, first, last)
}

// getGroup answers for deleted groups too (deleted:true): tickets still name them.
func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	g, err := s.DB.Group(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"group": s.groupView(r, g)})
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	gw, err := decodeGroup(r)
	if err != nil {
		return err
	}
	g, err := s.DB.CreateGroup(r.Context(), gw)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.groupURL(r, g.ID))
	return writeJSON(w, http.StatusCreated, map[string]any{"group": s.groupView(r, g)})
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	gw, err := decodeGroup(r)
	if err != nil {
		return err
	}
	g, err := s.DB.UpdateGroup(r.Context(), id, gw)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"group": s.groupView(r, g)})
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := s.DB.DeleteGroup(r.Context(), id); err != nil {
		return err
	}
	return writeJSON(w, http.StatusNoContent, nil)
}
