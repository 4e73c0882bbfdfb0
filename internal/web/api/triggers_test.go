package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/mergedesk/mergedesk/internal/trigger"
)

// withTriggers installs the trigger hook on e's database, as Main does.
func withTriggers(e *env) *trigger.Engine {
	return trigger.Install(e.DB)
}

func cond(field, op string, value any) map[string]any {
	return map[string]any{"field": field, "operator": op, "value": value}
}

func act(field string, value any) map[string]any {
	return map[string]any{"field": field, "value": value}
}

// mkTrigger creates a trigger as admin and returns its id.
func mkTrigger(t *testing.T, e *env, title string, all, anyOf []any, actions []any) int64 {
	t.Helper()
	m := e.Must(http.StatusCreated, "POST", "/triggers", map[string]any{"trigger": map[string]any{"title": title,
		"conditions": map[string]any{"all": all, "any": anyOf}, "actions": actions}})
	return id(t, obj(t, m, "trigger"))
}

// eventsOf returns the events of an audit response with their type.
func eventsOf(t *testing.T, m map[string]any, typ string) []map[string]any {
	t.Helper()
	a := obj(t, m, "audit")
	var out []map[string]any
	for _, ev := range a["events"].([]any) {
		if ev := ev.(map[string]any); ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

func TestTriggerCRUD(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		m := e.Must(http.StatusCreated, "POST", "/triggers.json", map[string]any{"trigger": map[string]any{
			"title": "Route VIP", "category_id": "10026",
			"conditions": map[string]any{"all": []any{cond("update_type", "is", "Create"), cond("current_tags", "includes", "vip")}, "any": nil},
			"actions":    []any{act("priority", "urgent"), act("group_id", 12)}}})
		tr := obj(t, m, "trigger")
		tid := id(t, tr)
		if tr["active"] != true || tr["position"] != float64(1) || tr["raw_title"] != "Route VIP" || tr["default"] != false ||
			tr["category_id"] != "10026" || tr["description"] != nil {
			t.Errorf("created trigger = %v", tr)
		}
		if any := obj(t, tr, "conditions")["any"].([]any); len(any) != 0 {
			t.Errorf("conditions.any = %v, want []", any)
		}
		if a := tr["actions"].([]any)[1].(map[string]any); a["value"] != "12" {
			t.Errorf("numeric action value = %v, want \"12\"", a["value"])
		}
		second := mkTrigger(t, e, "Second", []any{cond("status", "is", "open")}, nil, []any{act("status", "pending")})
		if m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/triggers/%d", second), nil); obj(t, m, "trigger")["position"] != float64(2) {
			t.Errorf("second trigger position = %v, want 2 (last)", obj(t, m, "trigger")["position"])
		}
		// Move the second before the first; deactivate the first.
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/triggers/%d", second), map[string]any{"trigger": map[string]any{"position": 0}})
		m = e.Must(http.StatusOK, "PUT", fmt.Sprintf("/triggers/%d.json", tid), map[string]any{"trigger": map[string]any{"active": false, "description": "d"}})
		if tr := obj(t, m, "trigger"); tr["active"] != false || tr["description"] != "d" || tr["title"] != "Route VIP" {
			t.Errorf("updated trigger = %v", tr)
		}
		if got := idsOf(e.Must(http.StatusOK, "GET", "/triggers", nil)["triggers"].([]any)); fmt.Sprint(got) != fmt.Sprint([]int64{second, tid}) {
			t.Errorf("GET /triggers ids = %v, want position order %v", got, []int64{second, tid})
		}
		for _, path := range []string{"/triggers/active", "/triggers?active=true"} {
			if got := idsOf(e.Must(http.StatusOK, "GET", path, nil)["triggers"].([]any)); fmt.Sprint(got) != fmt.Sprint([]int64{second}) {
				t.Errorf("GET %s ids = %v, want [%d]", path, got, second)
			}
		}
		m = e.Must(http.StatusOK, "GET", "/triggers?page[size]=1", nil)
		if meta := obj(t, m, "meta"); meta["has_more"] != true || len(m["triggers"].([]any)) != 1 {
			t.Errorf("cursor page = %v", m)
		}
		// Agents read, only admins write.
		if s, _ := e.Do("GET", "/triggers", e.AgentToken, nil); s != http.StatusOK {
			t.Errorf("agent GET /triggers = %d, want 200", s)
		}
		if s, _ := e.Do("POST", "/triggers", e.AgentToken, map[string]any{"trigger": map[string]any{}}); s != http.StatusForbidden {
			t.Errorf("agent POST /triggers = %d, want 403", s)
		}
		if s, _ := e.Do("GET", "/triggers", e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user GET /triggers = %d, want 403", s)
		}
		e.Must(http.StatusNoContent, "DELETE", fmt.Sprintf("/triggers/%d", tid), nil)
		e.Must(http.StatusNotFound, "GET", fmt.Sprintf("/triggers/%d", tid), nil)
		e.Must(http.StatusNotFound, "DELETE", fmt.Sprintf("/triggers/%d", tid), nil)
	})
}

func TestTriggerValidation(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ok := map[string]any{"all": []any{cond("status", "is", "open")}}
		acts := []any{act("status", "pending")}
		tests := []struct {
			name       string
			body       any
			wantStatus int
			wantField  string
		}{
			{"ErrNoWrapper", map[string]any{"title": "x"}, http.StatusBadRequest, ""},
			{"ErrNoTitle", map[string]any{"trigger": map[string]any{"conditions": ok, "actions": acts}}, 422, "title"},
			{"ErrNoConditions", map[string]any{"trigger": map[string]any{"title": "t", "actions": acts}}, 422, "conditions"},
			{"ErrNoActions", map[string]any{"trigger": map[string]any{"title": "t", "conditions": ok}}, 422, "actions"},
			{"ErrEmptyActions", map[string]any{"trigger": map[string]any{"title": "t", "conditions": ok, "actions": []any{}}}, 422, "actions"},
			{"ErrOperator", map[string]any{"trigger": map[string]any{"title": "t", "actions": acts,
				"conditions": map[string]any{"all": []any{cond("requester_id", "greater_than", "5")}}}}, 422, "conditions"},
			{"ErrValue", map[string]any{"trigger": map[string]any{"title": "t", "actions": acts,
				"conditions": map[string]any{"any": []any{cond("status", "is", "done")}}}}, 422, "conditions"},
			{"ErrAction", map[string]any{"trigger": map[string]any{"title": "t", "conditions": ok,
				"actions": []any{act("notification_user", []any{"nobody", "s", "b"})}}}, 422, "actions"},
			{"ErrUnknownWebhook", map[string]any{"trigger": map[string]any{"title": "t", "conditions": ok,
				"actions": []any{act("notification_webhook", []any{"01HXA7Q2M3N4P5R6S7T8V9W0XY", "{}"})}}}, 422, "actions"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, m := e.Do("POST", "/triggers", e.AdminToken, tt.body)
				if s != tt.wantStatus {
					t.Fatalf("POST /triggers = %d %v, want %d", s, m, tt.wantStatus)
				}
				if tt.wantField != "" {
					if _, ok := obj(t, m, "details")[tt.wantField]; !ok {
						t.Errorf("details = %v, want an entry for %s", m["details"], tt.wantField)
					}
				}
			})
		}
		// null conditions lists mean empty.
		m := e.Must(http.StatusCreated, "POST", "/triggers", map[string]any{"trigger": map[string]any{"title": "Any write",
			"conditions": map[string]any{"all": nil, "any": nil}, "actions": acts}})
		c := obj(t, obj(t, m, "trigger"), "conditions")
		if len(c["all"].([]any)) != 0 || len(c["any"].([]any)) != 0 {
			t.Errorf("conditions = %v, want empty lists", c)
		}
	})
}

// TestTriggerActionsInSameAudit: a trigger's field changes and notification
// land in the write's own audit, each event with the rule via.
func TestTriggerActionsInSameAudit(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		withTriggers(e)
		group := id(t, obj(t, e.Must(http.StatusCreated, "POST", "/groups", map[string]any{"group": map[string]any{"name": "VIP"}}), "group"))
		tid := mkTrigger(t, e, "Route VIP", []any{cond("update_type", "is", "Create"), cond("current_tags", "includes", "vip")}, nil,
			[]any{act("group_id", fmt.Sprint(group)), act("priority", "urgent"), act("current_tags", "routed"),
				act("assignee_id", "current_user"), act("notification_user", []any{"requester_id", "Got #{{ticket.id}}", "Hi {{ticket.requester.name}}"})})
		req := mkUserID(t, e, map[string]any{"name": "Ann Lee", "email": "ann@example.com"})

		m := e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": "Help",
			"requester_id": req, "tags": []string{"vip"}, "comment": map[string]any{"body": "hi"}}})
		tk := obj(t, m, "ticket")
		if tk["group_id"] != float64(group) || tk["priority"] != "urgent" || tk["assignee_id"] != float64(e.Admin.ID) ||
			fmt.Sprint(tk["tags"]) != "[vip routed]" {
			t.Errorf("ticket after trigger = %v", tk)
		}
		wantVia := fmt.Sprintf("map[channel:rule source:map[from:map[id:%d title:Route VIP] rel:trigger to:map[]]]", tid)
		changes := eventsOf(t, m, "Change")
		if len(changes) != 4 {
			t.Fatalf("Change events = %v, want 4 (group, priority, tags, assignee)", changes)
		}
		for _, ev := range changes {
			if fmt.Sprint(ev["via"]) != wantVia {
				t.Errorf("event %v: via = %v, want %s", ev["field_name"], ev["via"], wantVia)
			}
		}
		notes := eventsOf(t, m, "Notification")
		if len(notes) != 1 {
			t.Fatalf("Notification events = %v, want 1", notes)
		}
		ticketID := id(t, tk)
		n := notes[0]
		if n["subject"] != fmt.Sprintf("Got #%d", ticketID) || n["body"] != "Hi Ann Lee" || fmt.Sprint(n["recipients"]) != fmt.Sprintf("[%d]", req) ||
			fmt.Sprint(n["via"]) != wantVia {
			t.Errorf("Notification = %v", n)
		}
		// The audits endpoint shows the same single audit.
		audits := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits", ticketID), nil)["audits"].([]any)
		if len(audits) != 1 {
			t.Errorf("audits = %d, want 1", len(audits))
		}
		// Without a relay, the mail waits in the outbox.
		ob := e.Must(http.StatusOK, "GET", "/outbox?status=pending", nil)["outbox_messages"].([]any)
		if len(ob) != 1 {
			t.Fatalf("pending outbox = %v, want 1 message", ob)
		}
		msg := ob[0].(map[string]any)
		if msg["kind"] != "email" || msg["recipient"] != "ann@example.com" || msg["subject"] != fmt.Sprintf("Got #%d", ticketID) ||
			msg["ticket_id"] != float64(ticketID) || msg["trigger_id"] != float64(tid) || msg["attempts"] != float64(0) {
			t.Errorf("outbox message = %v", msg)
		}
		e.Must(http.StatusOK, "GET", fmt.Sprintf("/outbox/%d.json", id(t, msg)), nil)
		if s, _ := e.Do("GET", "/outbox", e.AgentToken, nil); s != http.StatusForbidden {
			t.Errorf("agent GET /outbox = %d, want 403", s)
		}
		e.Must(422, "GET", "/outbox?status=bogus", nil)

		// An update that does not match leaves things alone; one without any
		// change writes nothing at all.
		m = e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", ticketID), map[string]any{"ticket": map[string]any{"status": "pending"}})
		if ev := eventsOf(t, m, "Notification"); len(ev) != 0 {
			t.Errorf("update fired the create trigger: %v", ev)
		}
	})
}

// TestTriggerLoopBound: two triggers that undo each other each fire once per
// write, then checking stops.
func TestTriggerLoopBound(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		withTriggers(e)
		mkTrigger(t, e, "To pending", []any{cond("status", "is", "open")}, nil, []any{act("status", "pending")})
		mkTrigger(t, e, "To open", []any{cond("status", "is", "pending")}, nil, []any{act("status", "open")})
		tk := mkTicket(t, e, map[string]any{"subject": "Loop", "requester_id": e.EndUser.ID})
		m := e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", tk), map[string]any{"ticket": map[string]any{"status": "open"}})
		// open (write) → pending (trigger 1) → open (trigger 2) → trigger 1 already fired.
		if st := obj(t, m, "ticket")["status"]; st != "open" {
			t.Errorf("status = %v, want open", st)
		}
		var rule []string
		for _, ev := range eventsOf(t, m, "Change") {
			if ev["via"] != nil {
				rule = append(rule, fmt.Sprint(ev["previous_value"], "→", ev["value"]))
			}
		}
		if fmt.Sprint(rule) != "[open→pending pending→open]" {
			t.Errorf("rule changes = %v, want each trigger once", rule)
		}
	})
}

// TestTriggerRequesterChangedNotOnMerge: a trigger on "requester changed" fires
// when an agent changes the requester and never for the ticket updates of a
// user merge (M11).
func TestTriggerRequesterChangedNotOnMerge(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		withTriggers(e)
		mkTrigger(t, e, "Requester changed", []any{cond("requester_id", "changed", ""), cond("update_type", "is", "Change")}, nil,
			[]any{act("current_tags", "requester_changed"), act("notification_user", []any{"requester_id", "New requester", "Hello"})})
		src := mkUserID(t, e, map[string]any{"name": "Ann Dup", "email": "ann.dup@example.com"})
		dst := mkUserID(t, e, map[string]any{"name": "Ann Lee", "email": "ann.lee@example.com"})
		other := mkUserID(t, e, map[string]any{"name": "Bo", "email": "bo@example.com"})
		manual := mkTicket(t, e, map[string]any{"subject": "Manual", "requester_id": src})
		merged := mkTicket(t, e, map[string]any{"subject": "Merged", "requester_id": src})

		t.Run("ManualChangeFires", func(t *testing.T) {
			m := e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", manual), map[string]any{"ticket": map[string]any{"requester_id": other}})
			if tags := fmt.Sprint(obj(t, m, "ticket")["tags"]); tags != "[requester_changed]" {
				t.Errorf("tags = %s, want the trigger's tag", tags)
			}
			if len(eventsOf(t, m, "Notification")) != 1 {
				t.Errorf("no Notification event in %v", obj(t, m, "audit")["events"])
			}
		})
		t.Run("MergeDoesNotFire", func(t *testing.T) {
			before := len(e.Must(http.StatusOK, "GET", "/outbox", nil)["outbox_messages"].([]any))
			e.Must(http.StatusOK, "PUT", fmt.Sprintf("/users/%d/merge", src), map[string]any{"user": map[string]any{"id": dst}})
			tk := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d", merged), nil), "ticket")
			if tk["requester_id"] != float64(dst) {
				t.Fatalf("merge did not move the ticket: requester %v, want %d", tk["requester_id"], dst)
			}
			if tags := fmt.Sprint(tk["tags"]); tags != "[]" {
				t.Errorf("tags after merge = %s: a trigger fired", tags)
			}
			for _, a := range e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits", merged), nil)["audits"].([]any) {
				for _, ev := range a.(map[string]any)["events"].([]any) {
					if typ := ev.(map[string]any)["type"]; typ == "Notification" || typ == "External" || ev.(map[string]any)["via"] != nil {
						t.Errorf("merge audit holds a rule event: %v", ev)
					}
				}
			}
			if after := len(e.Must(http.StatusOK, "GET", "/outbox", nil)["outbox_messages"].([]any)); after != before {
				t.Errorf("outbox grew from %d to %d on a merge", before, after)
			}
		})
	})
}
