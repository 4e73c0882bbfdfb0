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

// GroupWrite is the writable part of a group. Nil fields are left alone on
// update and take their defaults on create, where Name is required.
type GroupWrite struct {
	Name        *string
	Description **string
	// Default true makes this the account's only default group.
	Default *bool
}

// MembershipFilter selects memberships in lists; the zero value selects all.
type MembershipFilter struct {
	UserID         *int64
	OrganizationID *int64
}

// OrganizationFilter selects organizations in lists; the zero value selects all.
type OrganizationFilter struct {
	// ExternalID matches exactly, ignoring case (GET /organizations/search).
	ExternalID *string
	// Name matches the whole name, ignoring case.
	Name *string
}

// OrganizationWrite is the writable part of an organization. Nil fields are left
// alone on update and take their defaults on create, where Name is required.
type OrganizationWrite struct {
	Name           *string
	ExternalID     **string
	DomainNames    *[]string
	GroupID        **int64
	SharedTickets  *bool
	SharedComments *bool
	Details        **string
	Notes          **string
	Tags           *[]string
	// OrganizationFields is merged into the stored fields; a nil value removes
	// that key.
	OrganizationFields map[string]any
}
