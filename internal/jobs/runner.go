// Package jobs runs background bulk jobs (Zendesk's job_status) one item at a
// time, recording progress after every item so that a job cut off by shutdown
// resumes with its next item on the next start.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mergedesk/mergedesk"
)

// Item processes one item of a job and returns its result entry (without
// "index", which the runner adds). Each item is its own transaction.
type Item func(ctx context.Context, ownerID int64, item json.RawMessage) map[string]any

// Run processes a whole job that is not a list of items (a duplicate scan):
// it reports its own progress through progress, which records it, and
// returns the job's one result entry (without "index"). A Run cut off by
// shutdown returns ctx's error; the job stays working and is run again on
// the next start, when it resumes from what it recorded itself.
type Run func(ctx context.Context, j *mergedesk.Job, progress func(done, total int) error) (map[string]any, error)

// Runner runs queued jobs in the background.
type Runner struct {
	DB     Store
	Logger *slog.Logger

	mu       sync.Mutex
	handlers map[string]Item
	runs     map[string]Run
	wake     chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc
}

// Handle registers the item function of a job type.
func (r *Runner) Handle(jobType string, fn Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handlers == nil {
		r.handlers = map[string]Item{}
	}
	r.handlers[jobType] = fn
}

// HandleRun registers the function of a job type that runs as a whole.
func (r *Runner) HandleRun(jobType string, fn Run) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runs == nil {
		r.runs = map[string]Run{}
	}
	r.runs[jobType] = fn
}

// Start begins processing in a goroutine; Stop ends it.
func (r *Runner) Start() {
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	r.wake = make(chan struct{}, 1)
	r.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.loop(ctx)
}

// Wake tells the runner a job was queued.
func (r *Runner) Wake() {
	if r.wake == nil {
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stop lets the current item finish, records progress, and returns when the
// runner has stopped or ctx ends.
func (r *Runner) Stop(ctx context.Context) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

func (r *Runner) loop(ctx context.Context) {
	defer close(r.done)
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	for {
		for ctx.Err() == nil {
			ran, err := r.runOne(ctx)
			if err != nil {
				r.Logger.Error("job runner", "err", err)
				break
			}
			if !ran {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-purge.C:
			if err := r.DB.PurgeJobs(context.Background()); err != nil {
				r.Logger.Error("purge jobs", "err", err)
			}
		case <-time.After(2 * time.Second):
		}
	}
}

// runOne claims and runs one job; it reports whether there was one.
func (r *Runner) runOne(ctx context.Context) (bool, error) {
	// Items use a context that shutdown does not cancel: an item finishes.
	itemCtx := context.WithoutCancel(ctx)
	j, err := r.DB.ClaimJob(itemCtx)
	if err != nil || j == nil {
		return false, err
	}
	r.mu.Lock()
	fn, run := r.handlers[j.Type], r.runs[j.Type]
	r.mu.Unlock()
	if run != nil {
		return true, r.runWhole(ctx, itemCtx, j, run)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(j.Payload, &items); err != nil || fn == nil {
		msg := fmt.Sprintf("Failed: unknown job type %q or bad payload", j.Type)
		j.Status, j.Message = mergedesk.JobFailed, &msg
		return true, r.DB.SaveJob(itemCtx, j)
	}
	for i := j.Progress; i < len(items); i++ {
		if ctx.Err() != nil {
			return true, nil // resumes on the next start
		}
		res := fn(itemCtx, j.OwnerID, items[i])
		res["index"] = i
		b, _ := json.Marshal(res)
		j.Results = append(j.Results[:min(i, len(j.Results))], b)
		j.Progress = i + 1
		if i+1 == len(items) {
			j.Status = mergedesk.JobCompleted
			msg := "Completed at " + time.Now().UTC().Format("2006-01-02 15:04:05 -0700")
			j.Message = &msg
		}
		if err := r.DB.SaveJob(itemCtx, j); err != nil {
			return true, err
		}
	}
	if len(items) == 0 {
		j.Status = mergedesk.JobCompleted
		msg := "Completed at " + time.Now().UTC().Format("2006-01-02 15:04:05 -0700")
		j.Message = &msg
		return true, r.DB.SaveJob(itemCtx, j)
	}
	return true, nil
}

// runWhole runs a job of a Run function and records its outcome.
func (r *Runner) runWhole(ctx, saveCtx context.Context, j *mergedesk.Job, run Run) error {
	res, err := run(ctx, j, func(done, total int) error {
		j.Progress, j.Total = done, total
		return r.DB.SaveJob(saveCtx, j)
	})
	if err != nil && ctx.Err() != nil {
		return nil // interrupted by shutdown: resumes on the next start
	}
	if err != nil {
		r.Logger.Error("job", "type", j.Type, "id", j.ID, "err", err)
		msg := "Failed: " + err.Error()
		j.Status, j.Message = mergedesk.JobFailed, &msg
		b, _ := json.Marshal(map[string]any{"index": 0, "success": false, "status": "Failed", "error": err.Error()})
		j.Results = []json.RawMessage{b}
		return r.DB.SaveJob(saveCtx, j)
	}
	res["index"] = 0
	b, _ := json.Marshal(res)
	j.Results = []json.RawMessage{b}
	j.Status = mergedesk.JobCompleted
	msg := "Completed at " + time.Now().UTC().Format("2006-01-02 15:04:05 -0700")
	j.Message = &msg
	return r.DB.SaveJob(saveCtx, j)
}
