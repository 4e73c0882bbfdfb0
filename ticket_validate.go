package mergedesk

import (
	"slices"
	"strings"
)

// ApplyFields validates the plain properties of in (subject, external id,
// type, priority, status, assignee, group, tags, custom fields) and applies
// them to t. The references among them (assignee, group) are checked by the
// store, which can see whether they exist. An assignee given to a new ticket
// opens it. Errors: RecordInvalid (type, priority or status InvalidValue).
func (t *Ticket) ApplyFields(in TicketInput) error {
	var err error
	if in.Subject != nil {
		t.Subject = strings.TrimSpace(*in.Subject)
	}
	if in.ExternalID != nil {
		t.ExternalID = nil
		if e := *in.ExternalID; e != nil && strings.TrimSpace(*e) != "" {
			v := strings.TrimSpace(*e)
			t.ExternalID = &v
		}
	}
	if in.Type != nil {
		if t.Type, err = ticketEnum("type", *in.Type, TicketTypes); err != nil {
			return err
		}
	}
	if in.Priority != nil {
		if t.Priority, err = ticketEnum("priority", *in.Priority, TicketPriorities); err != nil {
			return err
		}
	}
	if in.Status != nil && *in.Status != "" {
		if !slices.Contains(TicketStatuses, *in.Status) {
			return Invalid("status", CodeInvalid, "Status: %q is not a valid status", *in.Status)
		}
		t.Status = *in.Status
	}
	if in.AssigneeID != nil {
		t.AssigneeID = *in.AssigneeID
	}
	if in.GroupID != nil {
		t.GroupID = *in.GroupID
	}
	if in.Tags != nil {
		t.Tags = NormTags(*in.Tags)
	}
	for _, f := range in.CustomFields {
		i := slices.IndexFunc(t.CustomFields, func(e CustomField) bool { return e.ID == f.ID })
		if i < 0 {
			t.CustomFields = append(t.CustomFields, f)
		} else {
			t.CustomFields[i].Value = f.Value
		}
	}
	if t.Status == "new" && in.AssigneeID != nil && *in.AssigneeID != nil {
		t.Status = "open"
	}
	return nil
}

// ticketEnum validates an optional enum value; "" and nil clear it.
func ticketEnum(field string, v *string, allowed []string) (*string, error) {
	if v == nil || *v == "" {
		return nil, nil
	}
	s := strings.ToLower(*v)
	if !slices.Contains(allowed, s) {
		return nil, Invalid(field, CodeInvalid, "%s: %q is not valid", FieldLabel(field), *v)
	}
	return &s, nil
}
