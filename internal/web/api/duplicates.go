package api

import (
	"context"
	"net/http"
	"strconv"

	"github.com/mergedesk/mergedesk"
)

// Duplicates is duplicate detection as the API uses it (docs/duplicates.md,
// docs/duplicates-runtime.md); internal/detector's *Detector implements it.
type Duplicates interface {
	ForUser(ctx context.Context, userID int64, minScore *float64, includeDismissed bool) ([]mergedesk.DuplicateCandidate, error)
	Suggestions(ctx context.Context, f mergedesk.SuggestionFilter, p mergedesk.Page) ([]*mergedesk.DuplicateSuggestion, mergedesk.PageInfo, error)
	Suggestion(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error)
	Dismiss(ctx context.Context, id, actorID int64) (*mergedesk.DuplicateSuggestion, error)
	Restore(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error)
	StartScan(ctx context.Context, ownerID int64) (*mergedesk.Job, error)
}

func (s *Server) duplicateRoutes() {
	s.handle("GET /users/{id}/duplicates", Staff, s.userDuplicates)
	s.handle("GET /duplicate_suggestions", Staff, s.listSuggestions)
	s.handle("GET /duplicate_suggestions/{id}", Staff, s.getSuggestion)
	s.handle("PUT /duplicate_suggestions/{id}/dismiss", Staff, s.dismissSuggestion)
	s.handle("PUT /duplicate_suggestions/{id}/restore", Staff, s.restoreSuggestion)
	s.handle("POST /duplicate_scans", Staff, s.startDuplicateScan)
}

// duplicates returns the detection service after asking the domain whether
// the caller may use it (rule D11).
func (s *Server) duplicates(r *http.Request) (Duplicates, error) {
	if err := mergedesk.CanReadDuplicates(actor(r)); err != nil {
		return nil, err
	}
	if s.Duplicates == nil {
		return nil, mergedesk.Errorf(mergedesk.EUnavailable, "Duplicate detection is not running")
	}
	return s.Duplicates, nil
}

// minScoreParam reads min_score (rule D12: 422 naming the field).
func minScoreParam(r *http.Request) (*float64, error) {
	v := r.URL.Query().Get("min_score")
	if v == "" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return nil, mergedesk.Invalid("min_score", mergedesk.CodeInvalid, "min_score must be a number greater than 0 and at most 1, not %q", v)
	}
	if err := mergedesk.CheckMinScore(f); err != nil {
		return nil, err
	}
	return &f, nil
}

// idParam reads an optional id query parameter as a filter.
func idParam(r *http.Request, name string) (*int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return nil, mergedesk.Invalid(name, mergedesk.CodeInvalid, "%s must be an id, not %q", name, v)
	}
	return &id, nil
}

func reasonsJSON(r []mergedesk.DuplicateReason) []mergedesk.DuplicateReason {
	if r == nil {
		return []mergedesk.DuplicateReason{}
	}
	return r
}

func (s *Server) suggestionView(r *http.Request, sg *mergedesk.DuplicateSuggestion) map[string]any {
	var dismissedAt *string
	if sg.DismissedAt != nil {
		v := ts(*sg.DismissedAt)
		dismissedAt = &v
	}
	return map[string]any{"id": sg.ID, "url": s.url(r, "/duplicate_suggestions/"+strconv.FormatInt(sg.ID, 10)),
		"user_ids": sg.UserIDs[:], "score": sg.Score, "reasons": reasonsJSON(sg.Reasons), "group_id": sg.GroupID,
		"status": sg.Status, "suggested_target_id": sg.SuggestedTargetID, "merge": sg.Merge,
		"dismissed_by_id": sg.DismissedByID, "dismissed_at": dismissedAt, "created_at": ts(sg.CreatedAt), "updated_at": ts(sg.UpdatedAt)}
}

// userDuplicates is GET /users/{id}/duplicates: computed live, at most 20.
func (s *Server) userDuplicates(w http.ResponseWriter, r *http.Request) error {
	d, err := s.duplicates(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	minScore, err := minScoreParam(r)
	if err != nil {
		return err
	}
	include := false
	if v := r.URL.Query().Get("include_dismissed"); v != "" {
		if include, err = strconv.ParseBool(v); err != nil {
			return mergedesk.Invalid("include_dismissed", mergedesk.CodeInvalid, "include_dismissed must be true or false, not %q", v)
		}
	}
	cands, err := d.ForUser(r.Context(), id, minScore, include)
	if err != nil {
		return err
	}
	tagging := s.tagging(r.Context())
	out := make([]map[string]any, 0, len(cands))
	for _, c := range cands {
		v := map[string]any{"user": s.fullUser(r, c.User, tagging), "score": c.Score, "reasons": reasonsJSON(c.Reasons),
			"suggestion_id": nil, "group_id": nil, "status": nil, "suggested_target_id": c.SuggestedTargetID, "merge": c.Merge}
		if c.Suggestion != nil {
			v["suggestion_id"], v["group_id"], v["status"] = c.Suggestion.ID, c.Suggestion.GroupID, c.Suggestion.Status
		}
		out = append(out, v)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"duplicates": out})
}

// listSuggestions is GET /duplicate_suggestions: stored, best first, both
// pagination styles.
func (s *Server) listSuggestions(w http.ResponseWriter, r *http.Request) error {
	d, err := s.duplicates(r)
	if err != nil {
		return err
	}
	p, err := pageParams(r)
	if err != nil {
		return err
	}
	f := mergedesk.SuggestionFilter{Status: r.URL.Query().Get("status")}
	if f.MinScore, err = minScoreParam(r); err != nil {
		return err
	}
	if f.UserID, err = idParam(r, "user_id"); err != nil {
		return err
	}
	if f.GroupID, err = idParam(r, "group_id"); err != nil {
		return err
	}
	list, info, err := d.Suggestions(r.Context(), f, p)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, sg := range list {
		out[i] = s.suggestionView(r, sg)
	}
	first, last := ends(list, func(sg *mergedesk.DuplicateSuggestion) int64 { return sg.ID })
	return s.list(w, r, "duplicate_suggestions", out, p, info, first, last)
}

func (s *Server) getSuggestion(w http.ResponseWriter, r *http.Request) error {
	return s.suggestionAction(w, r, func(d Duplicates, id int64) (*mergedesk.DuplicateSuggestion, error) {
		return d.Suggestion(r.Context(), id)
	})
}

func (s *Server) dismissSuggestion(w http.ResponseWriter, r *http.Request) error {
	return s.suggestionAction(w, r, func(d Duplicates, id int64) (*mergedesk.DuplicateSuggestion, error) {
		return d.Dismiss(r.Context(), id, callerFrom(r.Context()).ID)
	})
}

func (s *Server) restoreSuggestion(w http.ResponseWriter, r *http.Request) error {
	return s.suggestionAction(w, r, func(d Duplicates, id int64) (*mergedesk.DuplicateSuggestion, error) {
		return d.Restore(r.Context(), id)
	})
}

// suggestionAction answers 200 {"duplicate_suggestion":…} with what fn does
// to the suggestion in the path.
func (s *Server) suggestionAction(w http.ResponseWriter, r *http.Request, fn func(Duplicates, int64) (*mergedesk.DuplicateSuggestion, error)) error {
	d, err := s.duplicates(r)
	if err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sg, err := fn(d, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"duplicate_suggestion": s.suggestionView(r, sg)})
}

// startDuplicateScan is POST /duplicate_scans: a full scan as a job (rule
// D10), or the one already queued or running.
func (s *Server) startDuplicateScan(w http.ResponseWriter, r *http.Request) error {
	d, err := s.duplicates(r)
	if err != nil {
		return err
	}
	j, err := d.StartScan(r.Context(), callerFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"job_status": s.jobView(r, j)})
}
