// Package trigger runs business rules (docs/api.md §10.1): it decides which triggers
// fire on a ticket write, applies their actions inside the write's transaction
// and puts their webhook calls and mail in the outbox. Conditions, validation
// and templates are pure functions of their arguments.
package trigger

import (
	"slices"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
)

// State is what conditions look at: the ticket before the write (nil on a
// create), the ticket as it will be stored, and the write's channel.
type State struct {
	Create   bool
	Previous *mergedesk.Ticket
	Ticket   *mergedesk.Ticket
	Channel  string
}

// Matches reports whether a trigger with conditions c fires: every all
// condition holds and, when any is non-empty, at least one any condition does.
func Matches(c mergedesk.Conditions, s State) bool {
	for _, x := range c.All {
		if !Holds(x, s) {
			return false
		}
	}
	if len(c.Any) == 0 {
		return true
	}
	return slices.ContainsFunc(c.Any, func(x mergedesk.Condition) bool { return Holds(x, s) })
}

// Holds reports whether one condition holds. Unknown fields and operators never
// hold (Validate refuses them on input).
func Holds(c mergedesk.Condition, s State) bool {
	prev := s.Previous
	if prev == nil {
		prev = &mergedesk.Ticket{}
	}
	t := s.Ticket
	switch c.Field {
	case "update_type":
		want := c.Value == "Create"
		switch c.Operator {
		case "is":
			return want == s.Create
		case "is_not":
			return want != s.Create
		}
		return false
	case "status":
		return compare(c, prev.Status, t.Status, mergedesk.TicketStatuses)
	case "priority":
		return compare(c, deref(prev.Priority), deref(t.Priority), mergedesk.TicketPriorities)
	case "requester_id":
		return compare(c, idString(nonZero(prev.RequesterID)), idString(nonZero(t.RequesterID)), nil)
	case "organization_id":
		return compare(c, idString(prev.OrganizationID), idString(t.OrganizationID), nil)
	case "group_id":
		return compare(c, idString(prev.GroupID), idString(t.GroupID), nil)
	case "assignee_id":
		return compare(c, idString(prev.AssigneeID), idString(t.AssigneeID), nil)
	case "via_id":
		ch := Channel(c.Value)
		switch c.Operator {
		case "is":
			return s.Channel == ch
		case "is_not":
			return s.Channel != ch
		}
		return false
	case "current_tags":
		want := mergedesk.NormTags(strings.Fields(c.Value))
		has := slices.ContainsFunc(want, func(tag string) bool { return slices.Contains(t.Tags, tag) })
		switch c.Operator {
		case "includes":
			return has
		case "not_includes":
			return !has
		}
		return false
	}
	return false
}

// compare evaluates the operators of a status-like field. order ranks values for
// less_than and greater_than ("" ranks below all); nil disables them.
func compare(c mergedesk.Condition, prev, cur string, order []string) bool {
	changed := prev != cur
	v := c.Value
	switch c.Operator {
	case "is":
		return cur == v
	case "is_not":
		return cur != v
	case "less_than":
		return order != nil && slices.Index(order, cur) < slices.Index(order, v)
	case "greater_than":
		return order != nil && slices.Index(order, cur) > slices.Index(order, v)
	case "changed":
		return changed
	case "not_changed":
		return !changed
	case "value":
		return changed && cur == v
	case "value_previous":
		return changed && prev == v
	case "not_value":
		return !(changed && cur == v)
	case "not_value_previous":
		return !(changed && prev == v)
	}
	return false
}

// viaIDs are Zendesk's numeric via ids that triggers accept.
var viaIDs = map[string]string{"0": "web", "4": "email", "5": "api"}

// Channels are the via channels a via_id condition can name (docs/api.md §6.1).
var Channels = []string{"api", "web", "email", "voice", "sms", "whatsapp", "native_messaging", "twitter", "facebook", "chat"}

// Channel returns the channel a via_id value names: a channel string, or one of
// Zendesk's numeric via ids.
func Channel(v string) string {
	if ch, ok := viaIDs[strings.TrimSpace(v)]; ok {
		return ch
	}
	return strings.ToLower(strings.TrimSpace(v))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func idString(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func nonZero(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
