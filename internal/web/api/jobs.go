package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// Job types (docs/api.md §8).
const (
	JobCreateUsers         = "bulk_create_users"
	JobCreateOrUpdateUsers = "bulk_create_or_update_users"
	JobCreateTickets       = "bulk_create_tickets"
	JobImportTickets       = "bulk_import_tickets"
	JobMergeUsers          = "bulk_merge_users"
)

// MaxBulkItems is the most items one bulk call takes.
const MaxBulkItems = 100

func (s *Server) jobRoutes() {
	s.handle("GET /job_statuses", Staff, s.listJobs)
	s.handle("GET /job_statuses/show_many", Staff, s.showManyJobs)
	s.handle("GET /job_statuses/{id}", Staff, s.getJob)
}

// RegisterJobs wires the bulk item functions into the runner.
func (s *Server) RegisterJobs() {
	if s.Jobs == nil {
		return
	}
	s.Jobs.Handle(JobCreateUsers, s.userJobItem(false))
	s.Jobs.Handle(JobCreateOrUpdateUsers, s.userJobItem(true))
	s.registerTicketJobs()
	s.Jobs.Handle(JobMergeUsers, s.mergeJobItem)
}

func (s *Server) jobView(r *http.Request, j *mergedesk.Job) map[string]any {
	var results any
	if j.Results != nil {
		results = j.Results
	}
	return map[string]any{"id": j.ID, "url": s.url(r, "/job_statuses/"+j.ID), "job_type": j.Type, "total": j.Total,
		"progress": j.Progress, "status": j.Status, "message": j.Message, "results": results}
}

// startJob decodes {key: [...]} with at most 100 items and queues a job.
func (s *Server) startJob(w http.ResponseWriter, r *http.Request, key, jobType string) error {
	var env map[string]json.RawMessage
	if err := decode(r, &env); err != nil {
		return err
	}
	raw, ok := env[key]
	if !ok || string(raw) == "null" {
		return mergedesk.Errorf(mergedesk.EParamMissing, "%s parameter is missing", key)
	}
	var items []json.RawMessage
	if err := decodeBytes(raw, &items); err != nil {
		return err
	}
	if len(items) > MaxBulkItems {
		return mergedesk.Errorf(mergedesk.ETooManyValues, "%s: at most %d items are allowed, got %d", key, MaxBulkItems, len(items))
	}
	j, err := s.DB.CreateJob(r.Context(), jobType, callerFrom(r.Context()).ID, items)
	if err != nil {
		return err
	}
	s.Jobs.Wake()
	return writeJSON(w, http.StatusOK, map[string]any{"job_status": s.jobView(r, j)})
}

// jobFailure is a failed item's result.
func jobFailure(err error) map[string]any {
	code, details := mergedesk.EInternal, "Internal error"
	if e, ok := err.(*mergedesk.Error); ok {
		code, details = e.Code, e.Description
		for _, list := range e.Details {
			if len(list) > 0 {
				code, details = list[0].Error, list[0].Description
				break
			}
		}
	}
	return map[string]any{"success": false, "error": code, "details": details}
}

// jobContext carries the job owner as the caller of item functions.
func (s *Server) jobContext(ctx context.Context, ownerID int64) (context.Context, error) {
	p, err := s.DB.PrincipalByID(ctx, ownerID)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, mergedesk.Forbidden()
	}
	return WithCaller(ctx, *p), nil
}

func (s *Server) bulkUsers(jobType string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return s.startJob(w, r, "users", jobType)
	}
}

func (s *Server) userJobItem(orUpdate bool) func(ctx context.Context, owner int64, item json.RawMessage) map[string]any {
	return func(ctx context.Context, owner int64, item json.RawMessage) map[string]any {
		ctx, err := s.jobContext(ctx, owner)
		if err != nil {
			return jobFailure(err)
		}
		var b userBody
		if err := decodeBytes(item, &b); err != nil {
			return jobFailure(err)
		}
		r := (&http.Request{}).WithContext(ctx)
		if orUpdate {
			u, created, err := s.createOrUpdate(r, &b)
			if err != nil {
				return jobFailure(err)
			}
			status := "Updated"
			if created {
				status = "Created"
			}
			return map[string]any{"id": u.ID, "status": status, "success": true}
		}
		if err := mergedesk.CanWriteUser(actor(r), nil, b.roleChange()); err != nil {
			return jobFailure(err)
		}
		nu, err := b.newUser()
		if err != nil {
			return jobFailure(err)
		}
		u, err := s.DB.CreateUser(ctx, nu)
		if err != nil {
			return jobFailure(err)
		}
		return map[string]any{"id": u.ID, "status": "Created", "success": true}
	}
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	j, err := s.DB.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := mergedesk.CanSeeJob(actor(r), j); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"job_status": s.jobView(r, j)})
}

func (s *Server) writeJobs(w http.ResponseWriter, r *http.Request, ids []string) error {
	js, err := s.DB.Jobs(r.Context(), ids, callerFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, j := range js {
		// show_many skips jobs the caller may not see, as it skips unknown ids.
		if mergedesk.CanSeeJob(actor(r), j) == nil {
			out = append(out, s.jobView(r, j))
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"job_statuses": out})
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	return s.writeJobs(w, r, nil)
}

func (s *Server) showManyJobs(w http.ResponseWriter, r *http.Request) error {
	ids, err := stringList(r.URL.Query().Get("ids"))
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return mergedesk.Errorf(mergedesk.EParamMissing, "ids is required")
	}
	return s.writeJobs(w, r, ids)
}

var _ = strings.Cut
var _ mergedesk.Page
