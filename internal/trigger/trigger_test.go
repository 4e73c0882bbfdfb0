package trigger

import (
	"encoding/json"
	"testing"

	"github.com/mergedesk/mergedesk"
)

func ptr[T any](v T) *T { return &v }

// before and after are one update: status open→pending, priority none→high,
// group 7→8, assignee unchanged 3, requester 501→502, tags [vip billing].
var (
	before = &mergedesk.Ticket{ID: 1, Status: "open", RequesterID: 501, GroupID: ptr[int64](7), AssigneeID: ptr[int64](3),
		OrganizationID: ptr[int64](31), Tags: []string{"vip"}}
	after = &mergedesk.Ticket{ID: 1, Status: "pending", Priority: ptr("high"), RequesterID: 502, GroupID: ptr[int64](8),
		AssigneeID: ptr[int64](3), OrganizationID: ptr[int64](31), Tags: []string{"vip", "billing"}}
	update  = State{Previous: before, Ticket: after, Channel: "api"}
	created = State{Create: true, Ticket: &mergedesk.Ticket{ID: 2, Status: "new", RequesterID: 501, Tags: []string{}}, Channel: "email"}
)

func TestHolds(t *testing.T) {
	tests := []struct {
		field, op, value string
		s                State
		want             bool
	}{
		{"update_type", "is", "Create", created, true},
		{"update_type", "is", "Create", update, false},
		{"update_type", "is", "Change", update, true},
		{"update_type", "is_not", "Change", update, false},

		{"status", "is", "pending", update, true},
		{"status", "is", "open", update, false},
		{"status", "is_not", "open", update, true},
		{"status", "less_than", "solved", update, true},
		{"status", "less_than", "open", update, false},
		{"status", "greater_than", "open", update, true},
		{"status", "greater_than", "pending", update, false},
		{"status", "changed", "", update, true},
		{"status", "not_changed", "", update, false},
		{"status", "value", "pending", update, true},
		{"status", "value", "open", update, false},
		{"status", "value_previous", "open", update, true},
		{"status", "value_previous", "pending", update, false},
		{"status", "not_value", "pending", update, false},
		{"status", "not_value", "solved", update, true},
		{"status", "not_value_previous", "open", update, false},
		{"status", "not_value_previous", "new", update, true},
		{"status", "changed", "", created, true}, // from nothing to new

		{"priority", "is", "high", update, true},
		{"priority", "is", "", update, false},
		{"priority", "is", "", created, true},
		{"priority", "less_than", "urgent", update, true},
		{"priority", "greater_than", "normal", update, true},
		{"priority", "less_than", "low", created, true}, // none ranks below low
		{"priority", "value_previous", "", update, true},
		{"priority", "not_changed", "", created, true},

		{"requester_id", "is", "502", update, true},
		{"requester_id", "is_not", "502", update, false},
		{"requester_id", "changed", "", update, true},
		{"requester_id", "not_changed", "", update, false},
		{"group_id", "is", "8", update, true},
		{"group_id", "changed", "", update, true},
		{"group_id", "is", "", created, true},
		{"assignee_id", "changed", "", update, false},
		{"assignee_id", "not_changed", "", update, true},
		{"assignee_id", "is", "3", update, true},
		{"organization_id", "is_not", "", update, true},
		{"organization_id", "not_changed", "", update, true},

		{"via_id", "is", "api", update, true},
		{"via_id", "is", "5", update, true},
		{"via_id", "is", "4", created, true},
		{"via_id", "is", "0", created, false},
		{"via_id", "is_not", "web", update, true},

		{"current_tags", "includes", "billing refund", update, true},
		{"current_tags", "includes", "refund", update, false},
		{"current_tags", "not_includes", "refund other", update, true},
		{"current_tags", "not_includes", "VIP", update, false},

		{"unknown", "is", "x", update, false},
		{"status", "bogus", "open", update, false},
	}
	for _, tt := range tests {
		name := tt.field + "_" + tt.op + "_" + tt.value
		t.Run(name, func(t *testing.T) {
			got := Holds(mergedesk.Condition{Field: tt.field, Operator: tt.op, Value: tt.value}, tt.s)
			if got != tt.want {
				t.Errorf("Holds(%s %s %q) = %v, want %v", tt.field, tt.op, tt.value, got, tt.want)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	yes := mergedesk.Condition{Field: "status", Operator: "is", Value: "pending"}
	no := mergedesk.Condition{Field: "status", Operator: "is", Value: "solved"}
	tests := []struct {
		name string
		c    mergedesk.Conditions
		want bool
	}{
		{"Empty", mergedesk.Conditions{}, true},
		{"AllHold", mergedesk.Conditions{All: []mergedesk.Condition{yes, yes}}, true},
		{"AllOneFails", mergedesk.Conditions{All: []mergedesk.Condition{yes, no}}, false},
		{"AnyOneHolds", mergedesk.Conditions{Any: []mergedesk.Condition{no, yes}}, true},
		{"AnyNoneHolds", mergedesk.Conditions{Any: []mergedesk.Condition{no, no}}, false},
		{"AllAndAny", mergedesk.Conditions{All: []mergedesk.Condition{yes}, Any: []mergedesk.Condition{no, yes}}, true},
		{"AllFailsAnyHolds", mergedesk.Conditions{All: []mergedesk.Condition{no}, Any: []mergedesk.Condition{yes}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Matches(tt.c, update); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cond := func(f, op, v string) mergedesk.Conditions {
		return mergedesk.Conditions{All: []mergedesk.Condition{{Field: f, Operator: op, Value: v}}}
	}
	act := func(f string, v any) []mergedesk.Action { return []mergedesk.Action{{Field: f, Value: v}} }
	tests := []struct {
		name    string
		c       mergedesk.Conditions
		a       []mergedesk.Action
		wantErr string // field of the RecordInvalid, "" for none
	}{
		{"OK", cond("status", "is", "open"), act("priority", "high"), ""},
		{"OKChangedAnyValue", cond("status", "changed", ""), act("status", "solved"), ""},
		{"OKViaNumeric", cond("via_id", "is", "4"), act("set_tags", "a b"), ""},
		{"OKPriorityNone", cond("priority", "is", ""), act("priority", ""), ""},
		{"OKAssigneeCurrentUser", cond("assignee_id", "is", ""), act("assignee_id", "current_user"), ""},
		{"OKWebhook", cond("update_type", "is", "Create"), act("notification_webhook", []string{"01H", "{}"}), ""},
		{"OKNotifyUser", cond("update_type", "is", "Change"), act("notification_user", []string{"requester_id", "s", "b"}), ""},
		{"ErrUnknownField", cond("colour", "is", "red"), nil, "conditions"},
		{"ErrOperator", cond("requester_id", "less_than", "5"), nil, "conditions"},
		{"ErrStatus", cond("status", "is", "done"), nil, "conditions"},
		{"ErrUpdateType", cond("update_type", "is", "create"), nil, "conditions"},
		{"ErrID", cond("group_id", "is", "abc"), nil, "conditions"},
		{"ErrVia", cond("via_id", "is", "99"), nil, "conditions"},
		{"ErrTags", cond("current_tags", "includes", " "), nil, "conditions"},
		{"ErrActionField", mergedesk.Conditions{}, act("subject", "x"), "actions"},
		{"ErrActionStatus", mergedesk.Conditions{}, act("status", "done"), "actions"},
		{"ErrActionGroup", mergedesk.Conditions{}, act("group_id", "x"), "actions"},
		{"ErrWebhookShape", mergedesk.Conditions{}, act("notification_webhook", "01H"), "actions"},
		{"ErrWebhookLen", mergedesk.Conditions{}, act("notification_webhook", []string{"01H"}), "actions"},
		{"ErrRecipient", mergedesk.Conditions{}, act("notification_user", []string{"everyone", "s", "b"}), "actions"},
		{"ErrListForScalar", mergedesk.Conditions{}, act("priority", []string{"high"}), "actions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.c, tt.a)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if got := mergedesk.FieldCode(err, tt.wantErr); got != mergedesk.CodeInvalid {
				t.Errorf("Validate = %v, want InvalidValue on %s", err, tt.wantErr)
			}
		})
	}
}

func TestRender(t *testing.T) {
	d := TemplateData(&mergedesk.Ticket{ID: 42, Subject: `Say "hi"` + "\n<b>&", Status: "open", RequesterID: 7},
		&mergedesk.User{ID: 7, Name: "Ann Lee", Identities: []mergedesk.Identity{{Type: mergedesk.IdentityEmail, Value: "ann@example.com", Primary: true}}},
		"http://h/api/v2/tickets/42.json", 12)
	tests := []struct {
		name, tmpl string
		json       bool
		want       string
	}{
		{"Plain", "#{{ticket.id}} {{ticket.title}} for {{ticket.requester.name}} <{{ticket.requester.email}}>", false,
			"#42 Say \"hi\"\n<b>& for Ann Lee <ann@example.com>"},
		{"Spaces", "{{ ticket.id }}/{{current_user.id}}/{{ticket.status}}", false, "42/12/open"},
		{"Unknown", "[{{ticket.nope}}][{{ticket.priority}}][{{ticket.group.id}}]", false, "[][][]"},
		{"JSON", `{"id":"{{ticket.id}}","title":"{{ticket.title}}","url":"{{ticket.url}}"}`, true,
			`{"id":"42","title":"Say \"hi\"\n<b>&","url":"http://h/api/v2/tickets/42.json"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tt.tmpl, d, tt.json)
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
			if tt.json && !json.Valid([]byte(got)) {
				t.Errorf("Render = %s: not valid JSON", got)
			}
		})
	}
}
