package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/merge"
)

func (s *Server) mergeRoutes() {
	s.handle("PUT /users/{id}/merge", Staff, s.mergeUser)
	s.handle("POST /users/{id}/merge_preview", Staff, s.previewMerge)
	s.handle("POST /users/merge_many", Staff, func(w http.ResponseWriter, r *http.Request) error {
		return s.startJob(w, r, "merges", JobMergeUsers)
	})
	s.handle("GET /user_merges", Admin, s.listUserMerges)
	s.handle("GET /user_merges/{id}", Admin, s.getUserMerge)
}

// mergeBody is {"user":{"id":TARGET}, "merge_preview_version":"…"}.
type mergeBody struct {
	User *struct {
		ID Opt[Int] `json:"id"`
	} `json:"user"`
	Version string `json:"merge_preview_version"`
}

// mergeRequest reads the source from the path and the target from the body, in
// the order of checks of docs/api.md §12.1 (the caller was checked first: M6).
func mergeRequest(r *http.Request) (source, target int64, version string, err error) {
	source, err = pathID(r, "id")
	if err != nil {
		return 0, 0, "", err
	}
	var b mergeBody
	if err := decode(r, &b); err != nil {
		return 0, 0, "", err
	}
	if b.User == nil || !b.User.ID.Set || b.User.ID.Null || b.User.ID.V <= 0 {
		return 0, 0, "", mergedesk.Errorf(mergedesk.EParamMissing, "user.id (the target user) is required")
	}
	return source, int64(b.User.ID.V), b.Version, nil
}

func (s *Server) mergeUser(w http.ResponseWriter, r *http.Request) error {
	if err := mergedesk.CanMerge(actor(r)); err != nil {
		return err
	}
	source, target, version, err := mergeRequest(r)
	if err != nil {
		return err
	}
	u, _, err := s.DB.MergeUsers(r.Context(), source, target, callerFrom(r.Context()).ID, version)
	if err != nil {
		return err
	}
	s.tokens.reset()
	return writeJSON(w, http.StatusOK, map[string]any{"user": s.fullUser(r, u, s.tagging(r.Context()))})
}

func (s *Server) previewMerge(w http.ResponseWriter, r *http.Request) error {
	if err := mergedesk.CanMerge(actor(r)); err != nil {
		return err
	}
	source, target, _, err := mergeRequest(r)
	if err != nil {
		return err
	}
	p, err := s.DB.PreviewMerge(r.Context(), source, target)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"merge_preview": s.previewView(r, source, target, p)})
}

func (s *Server) previewView(r *http.Request, source, target int64, p *merge.Plan) map[string]any {
	blockers := p.Blockers
	if blockers == nil {
		blockers = []mergedesk.FieldError{}
	}
	return map[string]any{"source_id": source, "target_id": target, "eligible": p.Eligible(), "blockers": blockers,
		"version": p.Version, "user": s.fullUser(r, p.Result, s.tagging(r.Context())), "fields": p.Fields, "tickets": p.Tickets}
}

func (s *Server) userMergeView(r *http.Request, m *mergedesk.UserMerge) map[string]any {
	return map[string]any{"id": m.ID, "url": s.url(r, "/user_merges/"+strconv.FormatInt(m.ID, 10)), "actor_id": m.ActorID,
		"created_at": ts(m.CreatedAt), "source_id": m.SourceID, "target_id": m.TargetID, "tickets_moved": m.TicketsMoved,
		"ccs_moved": m.CCsMoved, "identities_moved": m.IdentitiesMoved, "fields": m.Fields, "source_snapshot": m.SourceSnapshot,
		"duplicate_suggestion_id": m.DuplicateSuggestionID, "duplicate_score": m.DuplicateScore}
}

func (s *Server) listUserMerges(w http.ResponseWriter, r *http.Request) error {
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	var userID *int64
	if v := r.URL.Query().Get("user_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return mergedesk.Errorf(mergedesk.EParamMissing, "user_id must be an id")
		}
		userID = &id
	}
	ms, info, err := s.DB.UserMerges(r.Context(), userID, p)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(ms))
	for i, m := range ms {
		out[i] = s.userMergeView(r, m)
	}
	first, last := ends(ms, func(m *mergedesk.UserMerge) int64 { return m.ID })
	return s.list(w, r, "user_merges", out, p, info, first, last)
}

func (s *Server) getUserMerge(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	m, err := s.DB.UserMerge(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"user_merge": s.userMergeView(r, m)})
}

// mergeJobItem runs one pair of a merge_many job as its own atomic merge.
func (s *Server) mergeJobItem(ctx context.Context, owner int64, item json.RawMessage) map[string]any {
	var pair struct {
		SourceID Int `json:"source_id"`
		TargetID Int `json:"target_id"`
	}
	if err := decodeBytes(item, &pair); err != nil {
		return jobFailure(err)
	}
	res := map[string]any{"source_id": int64(pair.SourceID), "target_id": int64(pair.TargetID)}
	fail := func(err error) map[string]any {
		for k, v := range jobFailure(err) {
			res[k] = v
		}
		return res
	}
	p, err := s.DB.PrincipalByID(ctx, owner)
	if err != nil {
		return fail(err)
	}
	// The owner may have lost the role since the job was queued.
	if err := mergedesk.CanMerge(p); err != nil {
		return fail(err)
	}
	_, rec, err := s.DB.MergeUsers(ctx, int64(pair.SourceID), int64(pair.TargetID), owner, "")
	if err != nil {
		return fail(err)
	}
	res["success"], res["status"], res["user_merge_id"] = true, "Merged", rec.ID
	return res
}
