package mergedesk

import (
	"encoding/json"
	"fmt"
	"html"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
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

// NormTags lower-cases, splits on whitespace, and de-duplicates tags, keeping order.
func NormTags(tags []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range tags {
		for _, f := range strings.Fields(strings.ToLower(t)) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// Page selects one page of a list. Offset paging uses Offset; cursor paging sets
// Cursor and at most one of After and Before (ids of the list's order column).
type Page struct {
	Size   int
	Offset int
	Cursor bool
	After  int64
	Before int64
	Desc   bool
}

// PageInfo describes the page that was read.
type PageInfo struct {
	Total   int // offset paging only
	HasMore bool
	HasPrev bool
}

// TicketFilter selects tickets in lists (docs/api.md §6.3). Deleted tickets are never
// listed; closed and archived ones are.
type TicketFilter struct {
	ExternalID     *string
	RequesterID    *int64
	AssigneeID     *int64
	CCUserID       *int64 // tickets where the user is an email CC
	OrganizationID *int64
	// SortBy is "id" (the default), "created_at", "updated_at", "status" or
	// "priority" (the last two in their own order, docs/api.md §6.1). Page.Desc reverses.
	SortBy string
}

// TicketInput is one ticket create, update or import (docs/api.md §6.2, §6.4). A nil
// pointer leaves a field alone; a pointer to nil clears it.
type TicketInput struct {
	Subject        *string
	ExternalID     **string
	Type           **string
	Priority       **string
	Status         *string
	RequesterID    *int64
	Requester      *RequesterInput // wins over RequesterID
	SubmitterID    *int64          // create only; defaults to the writer
	AssigneeID     **int64
	GroupID        **int64
	OrganizationID **int64
	Tags           *[]string
	// CustomFields are merged into the ticket's by id. Values are string, bool,
	// nil or []string.
	CustomFields []CustomField

	// Collaborators replaces the email CC list (on a create it is the list).
	Collaborators *[]CCRef
	// EmailCCs adds (or, with Delete, removes) email CCs.
	EmailCCs []CCRef
	// AdditionalCollaborators only adds email CCs.
	AdditionalCollaborators []CCRef
	// Followers adds or removes followers (agents and admins).
	Followers []CCRef

	Comment *CommentInput
	// Description is the legacy form of the first comment on a create.
	Description *string

	// SafeUpdate refuses an update (409 UpdateConflict) when UpdatedStamp is not
	// the ticket's updated_at.
	SafeUpdate   bool
	UpdatedStamp *time.Time

	// ViaFollowupSourceID marks a follow-up of a closed ticket (channels, create only).
	ViaFollowupSourceID *int64

	// Imports only.
	Comments  []CommentInput
	CreatedAt *time.Time
	UpdatedAt *time.Time
	SolvedAt  *time.Time
}

// RequesterInput is an inline requester: the active user owning Email, or a new
// end user with Email as an unverified primary identity.
type RequesterInput struct {
	Name     string
	Email    string
	LocaleID int64
}

// CCRef names a user to CC or follow, by id or by email. An unknown email becomes
// a new end user named Name (default: the email's local part). Delete removes the
// user instead of adding it.
type CCRef struct {
	UserID int64
	Email  string
	Name   string
	Delete bool
}

// CommentInput is a comment to add. Body or HTMLBody is required.
type CommentInput struct {
	Body     string
	HTMLBody string
	Public   *bool // default true
	AuthorID int64 // 0: the writer
	// CreatedAt dates an imported comment and its audit; zero means the ticket's
	// created_at. Ignored outside imports.
	CreatedAt time.Time
}

func (c *CommentInput) Blank() bool {
	return c == nil || strings.TrimSpace(c.Body) == "" && strings.TrimSpace(PlainText(c.HTMLBody)) == ""
}

// TicketWriter says who writes a ticket and through which channel; it becomes the
// audit's author and via.
type TicketWriter struct {
	ActorID int64
	Via     Via
}

// TicketChange is one ticket create or update in progress, as a TicketHook sees
// it: the new state has been computed but not yet stored.
type TicketChange struct {
	Create bool
	// Previous is the ticket before this write; nil on a create.
	Previous *Ticket
	// Ticket is the state that will be stored. Its ID is set (on a create the row
	// exists already). Hooks change it only through Set.
	Ticket *Ticket
	// Audit is the audit of this write. Hooks may append events (Notification,
	// External); events of field changes come from Set.
	Audit   *Audit
	ActorID int64
	Via     Via

	dirty bool // set by Set: the row needs writing even on a create
}

// Set changes one property of the ticket the way a trigger action does and
// records a Change event carrying via (nil: the audit's via). value uses the
// trigger wire form: ids as decimal strings, "" to clear, tags space-separated.
// Fields: subject, status, priority, type, group_id, assignee_id, tags.
// References are checked when the write is stored.
func (c *TicketChange) Set(field, value string, via *Via) error {
	t := c.Ticket
	var prev, next any
	switch field {
	case "subject":
		prev, next, t.Subject = t.Subject, value, value
	case "status":
		if !slices.Contains(TicketStatuses, value) {
			return Invalid("status", CodeInvalid, "Status: %q is not a valid status", value)
		}
		prev, next, t.Status = t.Status, value, value
	case "priority", "type":
		p := &t.Priority
		allowed := TicketPriorities
		if field == "type" {
			p, allowed = &t.Type, TicketTypes
		}
		var v *string
		if value != "" {
			if !slices.Contains(allowed, value) {
				return Invalid(field, CodeInvalid, "%s: %q is not valid", FieldLabel(field), value)
			}
			v = &value
		}
		prev, next, *p = EventString(*p), EventString(v), v
	case "group_id", "assignee_id":
		p := &t.GroupID
		if field == "assignee_id" {
			p = &t.AssigneeID
		}
		var v *int64
		if value != "" {
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n <= 0 {
				return Invalid(field, CodeInvalid, "%s: %q is not an id", FieldLabel(field), value)
			}
			v = &n
		}
		prev, next, *p = EventID(*p), EventID(v), v
	case "tags":
		tags := NormTags(strings.Fields(value))
		prev, next, t.Tags = t.Tags, tags, tags
	default:
		return fmt.Errorf("ticket change: field %q cannot be set", field)
	}
	if reflect.DeepEqual(prev, next) {
		return nil
	}
	fields := map[string]any{"field_name": field, "value": next, "previous_value": prev}
	if via != nil {
		fields["via"] = via
	}
	c.Audit.Events = append(c.Audit.Events, Event{Type: EventChange, Fields: fields})
	c.dirty = true
	return nil
}

var (
	htmlBreaks = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>|</li>|</h[1-6]>`)
	htmlTags   = regexp.MustCompile(`<[^>]*>`)
	blankLines = regexp.MustCompile(`\n{3,}`)
)

// PlainText reduces an HTML body to the plain text stored as the comment body.
func PlainText(h string) string {
	s := htmlBreaks.ReplaceAllString(h, "\n")
	s = htmlTags.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	return strings.TrimSpace(blankLines.ReplaceAllString(s, "\n\n"))
}

// FieldLabel is the human name of a field in error descriptions.
func FieldLabel(field string) string {
	s := strings.TrimSuffix(field, "_id")
	s = strings.ReplaceAll(s, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// EventID is an id as audit events carry it: a decimal string, or nil.
func EventID(p *int64) any {
	if p == nil {
		return nil
	}
	return strconv.FormatInt(*p, 10)
}

// EventString is an optional text as audit events carry it: the text, or nil.
func EventString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// Dirty reports whether a hook changed the ticket through Set.
func (c *TicketChange) Dirty() bool { return c.dirty }
