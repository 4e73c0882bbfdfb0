package trigger

import (
	"slices"
	"strconv"
	"strings"

	"github.com/mergedesk/mergedesk"
)

var (
	statusOps = []string{"is", "is_not", "less_than", "greater_than", "changed", "value", "value_previous",
		"not_changed", "not_value", "not_value_previous"}
	idOps = []string{"is", "is_not", "changed", "not_changed"}

	// conditionOps are the operators of each condition field (docs/api.md §10.1).
	conditionOps = map[string][]string{
		"update_type":     {"is", "is_not"},
		"status":          statusOps,
		"priority":        statusOps,
		"requester_id":    idOps,
		"organization_id": idOps,
		"group_id":        idOps,
		"assignee_id":     idOps,
		"via_id":          {"is", "is_not"},
		"current_tags":    {"includes", "not_includes"},
	}
)

// Recipients that notification_user names by role.
var namedRecipients = []string{"requester_id", "assignee_id", "current_user"}

// Validate checks a trigger's conditions and actions. Errors: RecordInvalid on
// conditions or actions (InvalidValue).
func Validate(c mergedesk.Conditions, actions []mergedesk.Action) error {
	for _, list := range [][]mergedesk.Condition{c.All, c.Any} {
		for _, x := range list {
			if err := validateCondition(x); err != nil {
				return err
			}
		}
	}
	for _, a := range actions {
		if err := validateAction(a); err != nil {
			return err
		}
	}
	return nil
}

func condErr(x mergedesk.Condition, why string) error {
	return mergedesk.Invalid("conditions", mergedesk.CodeInvalid, "Conditions: %s %s %q: %s", x.Field, x.Operator, x.Value, why)
}

func validateCondition(x mergedesk.Condition) error {
	ops, ok := conditionOps[x.Field]
	if !ok {
		return condErr(x, "unknown field")
	}
	if !slices.Contains(ops, x.Operator) {
		return condErr(x, "the operator must be one of "+strings.Join(ops, ", "))
	}
	if x.Operator == "changed" || x.Operator == "not_changed" {
		return nil
	}
	switch x.Field {
	case "update_type":
		if x.Value != "Create" && x.Value != "Change" {
			return condErr(x, "the value must be Create or Change")
		}
	case "status":
		if !slices.Contains(mergedesk.TicketStatuses, x.Value) {
			return condErr(x, "not a status")
		}
	case "priority":
		if x.Value != "" && !slices.Contains(mergedesk.TicketPriorities, x.Value) {
			return condErr(x, "not a priority")
		}
	case "requester_id", "organization_id", "group_id", "assignee_id":
		if !isIDOrEmpty(x.Value) {
			return condErr(x, "not an id")
		}
	case "via_id":
		if !slices.Contains(Channels, Channel(x.Value)) {
			return condErr(x, "not a channel")
		}
	case "current_tags":
		if strings.TrimSpace(x.Value) == "" {
			return condErr(x, "no tags")
		}
	}
	return nil
}

func actErr(a mergedesk.Action, why string) error {
	return mergedesk.Invalid("actions", mergedesk.CodeInvalid, "Actions: %s: %s", a.Field, why)
}

func validateAction(a mergedesk.Action) error {
	list, isList := a.Value.([]string)
	s, _ := a.Value.(string)
	switch a.Field {
	case "notification_webhook", "notification_user":
		n := 2
		if a.Field == "notification_user" {
			n = 3
		}
		if !isList || len(list) != n {
			return actErr(a, "the value must be a list of "+strconv.Itoa(n)+" strings")
		}
		if strings.TrimSpace(list[0]) == "" {
			return actErr(a, "the first value cannot be blank")
		}
		if a.Field == "notification_user" && !slices.Contains(namedRecipients, list[0]) && !isID(list[0]) {
			return actErr(a, "the recipient must be requester_id, assignee_id, current_user or a user id")
		}
		return nil
	}
	if isList {
		return actErr(a, "the value must be a string")
	}
	switch a.Field {
	case "status":
		if !slices.Contains(mergedesk.TicketStatuses, s) {
			return actErr(a, strconv.Quote(s)+" is not a status")
		}
	case "priority":
		if s != "" && !slices.Contains(mergedesk.TicketPriorities, s) {
			return actErr(a, strconv.Quote(s)+" is not a priority")
		}
	case "group_id":
		if !isIDOrEmpty(s) {
			return actErr(a, strconv.Quote(s)+" is not an id")
		}
	case "assignee_id":
		if s != "current_user" && !isIDOrEmpty(s) {
			return actErr(a, strconv.Quote(s)+" is not an id or current_user")
		}
	case "current_tags", "set_tags", "remove_tags":
	default:
		return actErr(a, "unknown field")
	}
	return nil
}

func isID(s string) bool {
	n, err := strconv.ParseInt(s, 10, 64)
	return err == nil && n > 0
}

func isIDOrEmpty(s string) bool { return s == "" || isID(s) }
