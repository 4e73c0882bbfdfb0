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
