package mergedesk

import (
	"slices"
	"strings"
	"time"
)

// Duplicate suggestion statuses (docs/duplicates.md).
const (
	SuggestionOpen      = "open"
	SuggestionDismissed = "dismissed"
	SuggestionMerged    = "merged"
)

// DuplicateReason is one term of a suggestion's score: one piece of evidence for
// (positive weight) or against (negative weight) two profiles being one person
// (rule D2). Match is a stable snake_case code listed in docs/duplicates.md.
type DuplicateReason struct {
	Field       string  `json:"field"`
	Match       string  `json:"match"`
	Description string  `json:"description"`
	Weight      float64 `json:"weight"`
}

// MergeEligibility is whether a pair can be merged now, with the blockers the
// merge preview gives (rule D6).
type MergeEligibility struct {
	Eligible bool         `json:"eligible"`
	Blockers []FieldError `json:"blockers"`
}

// DuplicateSuggestion is a stored pair of end users that look like one person.
type DuplicateSuggestion struct {
	ID int64
	// UserIDs holds the pair, smaller id first.
	UserIDs           [2]int64
	Score             float64
	Reasons           []DuplicateReason
	GroupID           int64
	Status            string
	SuggestedTargetID int64
	// Merge is filled when the suggestion is read for a client.
	Merge         *MergeEligibility
	DismissedByID *int64
	DismissedAt   *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Other returns the user of the pair that is not id.
func (s *DuplicateSuggestion) Other(id int64) int64 {
	if s.UserIDs[0] == id {
		return s.UserIDs[1]
	}
	return s.UserIDs[0]
}

// SuggestionUsers returns the users of pairs, sorted, each once.
func SuggestionUsers(pairs []DuplicateSuggestion) []int64 {
	ids := make([]int64, 0, 2*len(pairs))
	for _, p := range pairs {
		ids = append(ids, p.UserIDs[0], p.UserIDs[1])
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// SuggestionFilter selects stored suggestions (GET /duplicate_suggestions).
type SuggestionFilter struct {
	Status   string // open (default), dismissed, merged, all
	MinScore *float64
	UserID   *int64
	GroupID  *int64
}

// Normalize checks the filter and fills its defaults (rule D12).
func (f *SuggestionFilter) Normalize() error {
	switch f.Status {
	case "":
		f.Status = SuggestionOpen
	case SuggestionOpen, SuggestionDismissed, SuggestionMerged, "all":
	default:
		return Invalid("status", CodeInvalid, "status must be open, dismissed, merged or all")
	}
	if f.MinScore != nil {
		if err := CheckMinScore(*f.MinScore); err != nil {
			return err
		}
	}
	return nil
}

// DuplicateSettings are the account's duplicate detection settings (api.md §14).
type DuplicateSettings struct {
	// Enabled turns live detection (rule D8) and the UI panel on.
	Enabled bool `json:"enabled"`
	// MinScore is the least score a pair needs to be suggested (rule D5).
	MinScore float64 `json:"min_score"`
	// UserFields are the user-field keys compared exactly (rule D3).
	UserFields []string `json:"user_fields"`
}

// DefaultMinScore is the default of duplicates.min_score, chosen on labelled data
// as docs/duplicates.md explains.
const DefaultMinScore = 0.95

// CheckMinScore accepts a score threshold in (0, 1].
func CheckMinScore(v float64) error {
	if !(v > 0 && v <= 1) {
		return Invalid("min_score", CodeInvalid, "min_score must be greater than 0 and at most 1, not %v", v)
	}
	return nil
}

// Validate checks the duplicates settings (api.md §14, rule D12): min_score in
// (0, 1], user_fields a list of non-empty keys (trimmed, without repeats).
func (s *DuplicateSettings) Validate() error {
	if !(s.MinScore > 0 && s.MinScore <= 1) {
		return Invalid("duplicates.min_score", CodeInvalid, "duplicates.min_score must be greater than 0 and at most 1, not %v", s.MinScore)
	}
	if s.UserFields == nil {
		s.UserFields = []string{}
	}
	seen := map[string]bool{}
	out := s.UserFields[:0]
	for _, k := range s.UserFields {
		k = strings.TrimSpace(k)
		if k == "" {
			return Invalid("duplicates.user_fields", CodeInvalid, "duplicates.user_fields must list non-empty user field keys")
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	s.UserFields = out
	return nil
}

// DuplicateFacts are what the suggested direction of a pair depends on (rule D6).
type DuplicateFacts struct {
	UserID int64
	// Verified: the user has a verified identity.
	Verified  bool
	Tickets   int
	CreatedAt time.Time
}

// SuggestTarget returns the id of the profile that keeps more, the suggested
// merge target (rule D6): one with a verified identity, then the one with more
// tickets, then the older one (earlier created_at, then smaller id).
func SuggestTarget(a, b DuplicateFacts) int64 {
	switch {
	case a.Verified != b.Verified:
		if a.Verified {
			return a.UserID
		}
		return b.UserID
	case a.Tickets != b.Tickets:
		if a.Tickets > b.Tickets {
			return a.UserID
		}
		return b.UserID
	case !a.CreatedAt.Equal(b.CreatedAt):
		if a.CreatedAt.Before(b.CreatedAt) {
			return a.UserID
		}
		return b.UserID
	}
	return min(a.UserID, b.UserID)
}

// DuplicateCandidate is one possible duplicate of a user, computed live
// (GET /users/{id}/duplicates).
type DuplicateCandidate struct {
	User    *User
	Score   float64
	Reasons []DuplicateReason
	// Suggestion is the stored suggestion of the pair, nil when there is none.
	Suggestion        *DuplicateSuggestion
	SuggestedTargetID int64
	Merge             *MergeEligibility
}
