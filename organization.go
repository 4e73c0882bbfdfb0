package mergedesk

import "time"

// Organization groups end users; tickets can be routed and analysed by it.
type Organization struct {
	ID                 int64
	Name               string
	ExternalID         *string
	DomainNames        []string
	GroupID            *int64
	SharedTickets      bool
	SharedComments     bool
	Details            *string
	Notes              *string
	Tags               []string
	OrganizationFields map[string]any
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Membership links a user to an organization; exactly one of a user's memberships
// is the default once it has any.
type Membership struct {
	ID               int64
	UserID           int64
	OrganizationID   int64
	OrganizationName string
	Default          bool
	ViewTickets      bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Group is a team of agents tickets can be assigned to.
type Group struct {
	ID          int64
	Name        string
	Description *string
	Default     bool
	Deleted     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}
