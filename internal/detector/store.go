package detector

import (
	"context"
	"encoding/json"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/duplicates"
	"github.com/mergedesk/mergedesk/internal/merge"
)

// Store is the storage the detector needs; internal/store's *DB implements it
// (docs/duplicates-runtime.md describes the tables).
type Store interface {
	Settings(ctx context.Context) (mergedesk.Settings, error)
	User(ctx context.Context, id int64) (*mergedesk.User, error)
	UsersByIDs(ctx context.Context, ids []int64) ([]*mergedesk.User, error)
	PreviewMerge(ctx context.Context, sourceID, targetID int64) (*merge.Plan, error)

	// Profiles and the facts of a suggested direction.
	DuplicateProfiles(ctx context.Context, ids []int64, fields []string) ([]*duplicates.Profile, error)
	EachDuplicateProfile(ctx context.Context, fields []string, fn func(*duplicates.Profile) error) error
	DuplicateFacts(ctx context.Context, ids []int64) (map[int64]mergedesk.DuplicateFacts, error)

	// Blocking keys and their counts.
	CountActiveEndUsers(ctx context.Context) (int, error)
	DuplicateKeyCounts(ctx context.Context, keys []uint64) (map[uint64]int, error)
	DuplicateKeyCountsUpTo(ctx context.Context, keys []uint64, limit int) (map[uint64]int, error)
	DuplicateCandidates(ctx context.Context, userID int64, keys []uint64, perKey int) ([]int64, error)
	SetDuplicateKeys(ctx context.Context, userID int64, keys []uint64) error
	SetDuplicateKeysMany(ctx context.Context, keys map[int64][]uint64) error
	SyncDuplicateKeys(ctx context.Context, lo, hi int64, keys map[int64][]uint64) (int, error)

	// The queue of users to re-evaluate (rule D8).
	ClaimDuplicateQueue(ctx context.Context, n int) ([]int64, error)
	EnqueueDuplicates(ctx context.Context, ids []int64) error

	// The model and the scan state (rule D10).
	DuplicateModel(ctx context.Context) (json.RawMessage, error)
	SaveDuplicateModel(ctx context.Context, model json.RawMessage) error
	BeginDuplicateScan(ctx context.Context, jobID string) (gen, cursor int64, err error)
	SaveScanChunk(ctx context.Context, gen, cursor int64, pairs []mergedesk.DuplicateSuggestion) error
	FinishDuplicateScan(ctx context.Context, gen int64) error
	CreateSingletonJob(ctx context.Context, typ string, ownerID int64) (*mergedesk.Job, bool, error)

	// Suggestions.
	ReplaceUserDuplicates(ctx context.Context, userID int64, pairs []mergedesk.DuplicateSuggestion) error
	OpenDuplicatePairs(ctx context.Context, ids []int64) ([][2]int64, error)
	AllOpenDuplicatePairs(ctx context.Context) ([][2]int64, error)
	SetDuplicateGroups(ctx context.Context, groups map[int64]int64) error
	CountDuplicateGroups(ctx context.Context) (suggestions, groups int, err error)
	DuplicateSuggestion(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error)
	DuplicateSuggestions(ctx context.Context, f mergedesk.SuggestionFilter, p mergedesk.Page) ([]*mergedesk.DuplicateSuggestion, mergedesk.PageInfo, error)
	UserDuplicateSuggestions(ctx context.Context, userID int64) ([]*mergedesk.DuplicateSuggestion, error)
	DismissDuplicate(ctx context.Context, id, actorID int64) (*mergedesk.DuplicateSuggestion, error)
	RestoreDuplicate(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error)
}
