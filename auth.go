package mergedesk

import "time"

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 8

// APIToken is an API token; Token is only set when it was just created.
type APIToken struct {
	ID          int64
	UserID      int64
	Description *string
	Token       string
	CreatedAt   time.Time
}

// Principal is an authenticated caller: who, and with which role.
type Principal struct {
	ID   int64
	Role string
}

// Session is a sign-in session of the agent web UI. The token that identifies it
// lives only in the browser's cookie; the database keeps its SHA-256.
type Session struct {
	ID        int64
	UserID    int64
	Role      string // the user's role now, not at sign-in
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}
