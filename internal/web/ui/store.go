package ui

import (
	"context"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/merge"
	"github.com/mergedesk/mergedesk/internal/search"
)

// Store is the storage the agent UI needs. cmd/mergedesk wires internal/store's
// *DB into it; this package never imports the store (docs/architecture.md).
type Store interface {
	AddIdentity(ctx context.Context, userID int64, ni mergedesk.NewIdentity, check func(*mergedesk.User) error) (*mergedesk.Identity, error)
	// Classify maps a driver error meaning "the database is not answering" to
	// mergedesk.EUnavailable and returns other errors unchanged.
	Classify(err error) error
	CreateSession(ctx context.Context, userID int64, ttl time.Duration, userAgent string, ip string) (string, *mergedesk.Session, error)
	DeleteSession(ctx context.Context, token string) error
	MergeUsers(ctx context.Context, sourceID int64, targetID int64, actorID int64, version string) (*mergedesk.User, *mergedesk.UserMerge, error)
	Organization(ctx context.Context, id int64) (*mergedesk.Organization, error)
	Organizations(ctx context.Context, f mergedesk.OrganizationFilter, p mergedesk.Page) ([]*mergedesk.Organization, mergedesk.PageInfo, error)
	PasswordPrincipal(ctx context.Context, email string, password string) (*mergedesk.Principal, error)
	PreviewMerge(ctx context.Context, sourceID int64, targetID int64) (*merge.Plan, error)
	SearchUsers(ctx context.Context, q search.Query, region string, sortBy string, sortOrder string, limit int, offset int) (ids []int64, total int, err error)
	SessionByToken(ctx context.Context, token string) (*mergedesk.Session, error)
	Settings(ctx context.Context) (mergedesk.Settings, error)
	Ticket(ctx context.Context, id int64) (*mergedesk.Ticket, error)
	TicketAudits(ctx context.Context, ticketID int64, p mergedesk.Page) ([]*mergedesk.Audit, mergedesk.PageInfo, error)
	TicketComments(ctx context.Context, ticketID int64, p mergedesk.Page) ([]mergedesk.Comment, mergedesk.PageInfo, error)
	Tickets(ctx context.Context, f mergedesk.TicketFilter, p mergedesk.Page) ([]*mergedesk.Ticket, mergedesk.PageInfo, error)
	UpdateIdentity(ctx context.Context, userID int64, id int64, value *string, verified *bool, method *string, check func(*mergedesk.User) error) (*mergedesk.Identity, error)
	UpdateUser(ctx context.Context, id int64, upd mergedesk.UserUpdate, check func(*mergedesk.User) error) (*mergedesk.User, error)
	User(ctx context.Context, id int64) (*mergedesk.User, error)
	Users(ctx context.Context, f mergedesk.UserFilter, p mergedesk.Page) ([]*mergedesk.User, mergedesk.PageInfo, error)
	UsersByIDs(ctx context.Context, ids []int64) ([]*mergedesk.User, error)
}

// Duplicates is the duplicate detection the UI shows (docs/duplicates.md, the
// "Agent UI" of the contract). cmd/mergedesk wires internal/detector's
// *Detector into Server.Duplicates; while it is nil the UI shows neither the
// Possible duplicates panel nor the Duplicates page.
type Duplicates interface {
	// ForUser computes a user's possible duplicates live, best first.
	ForUser(ctx context.Context, userID int64, minScore *float64, includeDismissed bool) ([]mergedesk.DuplicateCandidate, error)
	// Suggestions lists stored suggestions, best first, with eligibility.
	Suggestions(ctx context.Context, f mergedesk.SuggestionFilter, p mergedesk.Page) ([]*mergedesk.DuplicateSuggestion, mergedesk.PageInfo, error)
	// Suggestion reads one stored suggestion.
	Suggestion(ctx context.Context, id int64) (*mergedesk.DuplicateSuggestion, error)
	// Dismiss marks a stored suggestion "not the same person" (rule D7).
	Dismiss(ctx context.Context, id, actorID int64) (*mergedesk.DuplicateSuggestion, error)
	// Evaluate stores the open suggestions of users now (rule D8), so that a
	// pair computed live has a stored suggestion to dismiss.
	Evaluate(ctx context.Context, ids []int64) error
}
