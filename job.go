package mergedesk

import (
	"encoding/json"
	"time"
)

// Job statuses.
const (
	JobQueued    = "queued"
	JobWorking   = "working"
	JobCompleted = "completed"
	JobFailed    = "failed"
)

// JobDuplicateScan is the job type of a full duplicate scan (POST
// /duplicate_scans, rule D10): account-wide work with no items, of which at
// most one is queued or running.
const JobDuplicateScan = "duplicate_scan"

// Job is a background bulk operation (Zendesk's job_status).
type Job struct {
	ID        string
	Type      string
	OwnerID   int64
	Status    string
	Total     int
	Progress  int
	Message   *string
	Payload   json.RawMessage
	Results   []json.RawMessage // nil until the job starts
	CreatedAt time.Time
	UpdatedAt time.Time
}
