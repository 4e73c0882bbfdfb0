package mergedesk

// SearchHit is one result of a search over several kinds.
type SearchHit struct {
	Kind string // "user", "ticket", "organization" or "group"
	ID   int64
}
