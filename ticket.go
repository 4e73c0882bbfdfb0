package mergedesk

import (
	"encoding/json"
	"time"
)

// Ticket statuses, in the order comparisons use.
var TicketStatuses = []string{"new", "open", "pending", "hold", "solved", "closed"}

// TicketPriorities, in the order comparisons use.
var TicketPriorities = []string{"low", "normal", "high", "urgent"}

// TicketTypes allowed in Ticket.Type.
var TicketTypes = []string{"problem", "incident", "question", "task"}

// Ticket is one interaction with a requester.
type Ticket struct {
	ID                  int64
	ExternalID          *string
	Type                *string
	Subject             string
	Description         string
	Priority            *string
	Status              string
	RequesterID         int64
	SubmitterID         int64
	AssigneeID          *int64
	OrganizationID      *int64
	GroupID             *int64
	EmailCCIDs          []int64
	FollowerIDs         []int64
	Tags                []string
	CustomFields        []CustomField
	Via                 Via
	ViaFollowupSourceID *int64
	IsPublic            bool
	Archived            bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// CustomField is a ticket field value; Value is a string, bool, nil or []string.
type CustomField struct {
	ID    int64 `json:"id"`
	Value any   `json:"value"`
}

// Via says where a write came from.
type Via struct {
	Channel string `json:"channel"`
	Source  struct {
		From map[string]any `json:"from"`
		To   map[string]any `json:"to"`
		Rel  *string        `json:"rel"`
	} `json:"source"`
}

// NewVia returns a Via with empty from and to objects.
func NewVia(channel string) Via {
	v := Via{Channel: channel}
	v.Source.From = map[string]any{}
	v.Source.To = map[string]any{}
	return v
}

// Audit is the immutable record of one write to a ticket.
type Audit struct {
	ID        int64
	TicketID  int64
	AuthorID  int64
	CreatedAt time.Time
	Via       Via
	Metadata  json.RawMessage
	Events    []Event
}

// Event is one entry of an audit. Fields holds the type-specific keys (field_name,
// value, previous_value, body, ...) exactly as they are written on the wire.
type Event struct {
	ID     int64
	Type   string
	Fields map[string]any
}

// Comment is a ticket comment (the Comment event of an audit).
type Comment struct {
	ID        int64
	TicketID  int64
	AuditID   int64
	AuthorID  int64
	Body      string
	HTMLBody  string
	Public    bool
	Via       Via
	CreatedAt time.Time
}
