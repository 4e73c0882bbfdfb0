package mergedesk

import "time"

// Identity types.
const (
	IdentityEmail      = "email"
	IdentityPhone      = "phone_number"
	IdentityTwitter    = "twitter"
	IdentityFacebook   = "facebook"
	IdentityGoogle     = "google"
	IdentityMessaging  = "messaging"
	IdentitySDK        = "sdk"
	IdentityAnyChannel = "any_channel"
)

// IdentityTypes lists the identity types in the order lists are sorted by.
var IdentityTypes = []string{IdentityEmail, IdentityPhone, IdentityTwitter, IdentityFacebook,
	IdentityGoogle, IdentityMessaging, IdentitySDK, IdentityAnyChannel}

// Identity is one contact point of a user: an email address, a phone number, a handle.
// A value belongs to at most one active user (rule M28).
type Identity struct {
	ID                 int64
	UserID             int64
	Type               string
	Value              string
	Verified           bool
	Primary            bool
	VerificationMethod string
	UndeliverableCount int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// NewIdentity describes an identity to add.
type NewIdentity struct {
	Type     string
	Value    string
	Verified bool
	Primary  bool
	// VerificationMethod is "none" or "low" when set.
	VerificationMethod string
}
