package mergedesk

import "time"

// Roles.
const (
	RoleEndUser = "end-user"
	RoleAgent   = "agent"
	RoleAdmin   = "admin"
)

// User is a person: an end user (a customer) or a member of the support team.
type User struct {
	ID           int64
	Name         string
	Role         string
	Active       bool
	MergedIntoID *int64
	Suspended    bool
	ExternalID   *string
	LocaleID     int64
	TimeZone     string
	// SharedPhone is a phone number that is not an identity (a switchboard).
	SharedPhone    *string
	Tags           []string
	Details        *string
	Notes          *string
	Alias          *string
	Signature      *string
	UserFields     map[string]any
	RemotePhotoURL *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastLoginAt    *time.Time

	// Loaded with the user: live identities and memberships.
	Identities  []Identity
	Memberships []Membership
}

// IsStaff reports whether u is an agent or an admin.
func (u *User) IsStaff() bool { return StaffRole(u.Role) }

// PrimaryIdentity returns u's primary identity of type typ, or nil.
func (u *User) PrimaryIdentity(typ string) *Identity {
	for i := range u.Identities {
		if u.Identities[i].Type == typ && u.Identities[i].Primary {
			return &u.Identities[i]
		}
	}
	return nil
}

// Email returns the value of u's primary email identity, or nil.
func (u *User) Email() *string {
	if id := u.PrimaryIdentity(IdentityEmail); id != nil {
		return &id.Value
	}
	return nil
}

// Verified reports whether any identity of u is verified.
func (u *User) Verified() bool {
	for _, id := range u.Identities {
		if id.Verified {
			return true
		}
	}
	return false
}

// DefaultOrganizationID returns the organization of u's default membership, or nil.
func (u *User) DefaultOrganizationID() *int64 {
	for _, m := range u.Memberships {
		if m.Default {
			id := m.OrganizationID
			return &id
		}
	}
	return nil
}

// UserFilter selects users in lists.
type UserFilter struct {
	Roles      []string
	ExternalID *string
	OrgID      *int64
	IDs        []int64
	// ExternalIDs selects by external id (show_many).
	ExternalIDs []string
}

// UserUpdate is a partial update of a user; nil fields are left alone.
type UserUpdate struct {
	Name              *string
	Role              *string
	Suspended         *bool
	ExternalID        **string
	LocaleID          *int64
	TimeZone          *string
	Tags              *[]string
	Details, Notes    **string
	Alias, Signature  **string
	UserFields        map[string]any // merged; a nil value removes the key
	RemotePhotoURL    **string
	Email             *string // adds a secondary email (§2.4)
	Verified          *bool
	Phone             *string
	SharedPhoneNumber *bool
	OrganizationID    **int64 // replaces all memberships; nil inner pointer removes all
}

// NewUser describes a user to create.
type NewUser struct {
	Name           string
	Role           string
	Email          string
	Phone          string
	SharedPhone    bool
	Verified       bool
	Suspended      bool
	ExternalID     *string
	LocaleID       int64
	TimeZone       string
	Tags           []string
	Details        *string
	Notes          *string
	Alias          *string
	Signature      *string
	UserFields     map[string]any
	RemotePhotoURL *string
	Identities     []NewIdentity
	OrganizationID *int64
	// OrganizationName finds the organization by name or creates it.
	OrganizationName *string
	Password         string
}

// UserRelated holds the counts of GET /users/{id}/related.
type UserRelated struct {
	Requested, CCd, Assigned int64
}

// ImportResult reports one ImportUsers call, row by row in input order.
type ImportResult struct {
	// IDs holds each row's new user id, or 0 when the row was skipped.
	IDs []int64
	// Errors holds why a row was skipped (a *mergedesk.Error such as
	// DuplicateValue), or nil for an imported row.
	Errors  []error
	Created int
	Skipped int
}

// MaxNameLen bounds user, organization and group names.
const MaxNameLen = 255

// DeletedUser is the record /deleted_users serves: the user as it was just before
// it was deleted or merged away.
type DeletedUser struct {
	ID                int64      `json:"id"`
	Name              string     `json:"name"`
	Email             *string    `json:"email"`
	Phone             *string    `json:"phone"`
	SharedPhoneNumber *bool      `json:"shared_phone_number"`
	RemotePhotoURL    *string    `json:"remote_photo_url"`
	LocaleID          int64      `json:"locale_id"`
	TimeZone          string     `json:"time_zone"`
	OrganizationID    *int64     `json:"organization_id"`
	Role              string     `json:"role"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
	MergedIntoID      *int64     `json:"merged_into_id"`
	DeletedAt         *time.Time `json:"deleted_at,omitempty"`
}

// PhoneOf returns the user's phone and shared_phone_number values (docs/api.md §2.1).
func PhoneOf(u *User) (*string, *bool) {
	if id := u.PrimaryIdentity(IdentityPhone); id != nil {
		f := false
		return &id.Value, &f
	}
	if u.SharedPhone != nil {
		t := true
		return u.SharedPhone, &t
	}
	return nil, nil
}

// Deleted is u as /deleted_users shows it: its profile values as they were
// when it was deleted or merged away.
func (u *User) Deleted() DeletedUser {
	phone, shared := PhoneOf(u)
	return DeletedUser{ID: u.ID, Name: u.Name, Email: u.Email(), Phone: phone, SharedPhoneNumber: shared,
		RemotePhotoURL: u.RemotePhotoURL, LocaleID: u.LocaleID, TimeZone: u.TimeZone,
		OrganizationID: u.DefaultOrganizationID(), Role: u.Role, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}
