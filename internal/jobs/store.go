package jobs

import (
	"context"

	"github.com/mergedesk/mergedesk"
)

// Store is the job queue the runner works from; internal/store's *DB implements it.
type Store interface {
	ClaimJob(ctx context.Context) (*mergedesk.Job, error)
	SaveJob(ctx context.Context, j *mergedesk.Job) error
	PurgeJobs(ctx context.Context) error
}
