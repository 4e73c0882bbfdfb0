package mergedesk

import (
	"encoding/json"
	"time"
)

// UserMerge is the merge record (rule M30, docs/api.md §12.5).
type UserMerge struct {
	ID              int64
	ActorID         int64
	SourceID        int64
	TargetID        int64
	TicketsMoved    int
	CCsMoved        int
	IdentitiesMoved []MovedIdentity
	Fields          []MergeField
	SourceSnapshot  json.RawMessage
	CreatedAt       time.Time
}

// MovedIdentity is an identity as it is on the target after a merge.
type MovedIdentity struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// MergeField is one row of a merge's field-by-field outcome (docs/merge.md; docs/api.md
// §12.3). Outcome is one of the merge package's outcomes.
type MergeField struct {
	Field       string `json:"field"`
	Rule        string `json:"rule"`
	Outcome     string `json:"outcome"`
	SourceValue any    `json:"source_value"`
	TargetValue any    `json:"target_value"`
}
