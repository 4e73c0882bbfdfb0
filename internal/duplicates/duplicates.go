// Package duplicates finds end users that are probably one person (rules D1–D14 of
// docs/duplicates.md). It is pure and fast: the caller hands it profiles, it
// returns blocking keys, scored pairs with their reasons, and groups. The store
// keeps the SQL; internal/detector runs it live and as a full scan.
//
// The score is a Fellegi–Sunter model of evidence: each compared field falls in a
// comparison level, each level carries a log-likelihood ratio (its weight) of
// match against non-match, adjusted for how rare the agreeing value is (D4); the
// weights add up and a logistic turns the sum into a probability. The reasons are
// exactly the terms of that sum (D2). docs/duplicates.md explains the model.
package duplicates

import (
	"github.com/mergedesk/mergedesk"
)

// Handle is a social or messaging identity (X, Facebook, messaging apps).
type Handle struct {
	Type  string // mergedesk.IdentityTwitter, …
	Value string
}

// Profile is what detection knows about one active end user.
type Profile struct {
	ID     int64
	Name   string
	Emails []string // as stored (lower case)
	Phones []string // E.164
	// Handles are the user's X, Facebook and messaging identities.
	Handles []Handle
	OrgIDs  []int64
	// OrgDomains are the domain_names of the user's organizations.
	OrgDomains []string
	// Fields holds the values of the compared user fields (the setting
	// duplicates.user_fields), in the setting's order; "" when unset.
	Fields []string
}

// Stats tells how common a blocking key is among active end users (rule D4).
type Stats interface {
	// Users is the number of active end users.
	Users() int
	// Count is how many of them have key among their Keys.
	Count(key uint64) int
}

// Reason is one term of a score.
type Reason = mergedesk.DuplicateReason

// Result is the comparison of two profiles.
type Result struct {
	Score   float64
	Reasons []Reason
}

// Pair is a scored pair found by a scan, A < B.
type Pair struct {
	A, B int64
	// Via is the profile a chained pair goes through (see Chains); 0 for a
	// pair scored on its own evidence.
	Via int64
	Result
}
