package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// mustTicket creates a ticket as admin and returns the ticket and audit objects.
func (e *env) mustTicket(fields map[string]any) (map[string]any, map[string]any) {
	e.t.Helper()
	if _, ok := fields["comment"]; !ok {
		fields["comment"] = map[string]any{"body": "Help me."}
	}
	m := e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": fields})
	a, _ := m["audit"].(map[string]any)
	return obj(e.t, m, "ticket"), a
}

// ids returns a JSON array of numbers as int64s.
func ids(t testing.TB, v any) []int64 {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not an array", v)
	}
	out := make([]int64, len(list))
	for i, x := range list {
		f, ok := x.(float64)
		if !ok {
			t.Fatalf("%v is not a number", x)
		}
		out[i] = int64(f)
	}
	return out
}

// events returns the events of an audit of the given type.
func events(t testing.TB, audit map[string]any, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	list, _ := audit["events"].([]any)
	for _, x := range list {
		if ev := x.(map[string]any); ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

// fieldEvent returns the Create or Change event of field, or nil.
func fieldEvent(t testing.TB, audit map[string]any, typ, field string) map[string]any {
	t.Helper()
	for _, ev := range events(t, audit, typ) {
		if ev["field_name"] == field {
			return ev
		}
	}
	return nil
}

func detailCode(m map[string]any, field string) string {
	d, _ := m["details"].(map[string]any)
	list, _ := d[field].([]any)
	if len(list) == 0 {
		return ""
	}
	e, _ := list[0].(map[string]any)
	s, _ := e["error"].(string)
	return s
}

func TestTicketCreateShape(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		status, raw := e.DoRaw("POST", "/tickets.json", e.AgentToken, map[string]any{"ticket": map[string]any{
			"subject": "Refund", "requester_id": e.EndUser.ID, "priority": "normal", "tags": []string{"Billing", "vip"},
			"custom_fields": []any{map[string]any{"id": 900, "value": 42}, map[string]any{"id": 901, "value": true}},
			"comment":       map[string]any{"body": "I was charged twice."},
			"id":            77, "url": "junk", "created_at": "0001-01-01T00:00:00Z", "group_id": 0}})
		if status != http.StatusCreated {
			t.Fatalf("create = %d %s", status, raw)
		}
		if strings.Contains(string(raw), `"value":42`) {
			t.Errorf("custom field value written as a number: %s", raw)
		}
		m2 := e.Must(http.StatusOK, "GET", "/tickets?sort_order=desc", nil)
		tk := m2["tickets"].([]any)[0].(map[string]any)
		for _, k := range []string{"id", "url", "external_id", "via", "created_at", "updated_at", "type", "subject", "raw_subject",
			"description", "priority", "status", "requester_id", "submitter_id", "assignee_id", "organization_id", "group_id",
			"collaborator_ids", "email_cc_ids", "follower_ids", "tags", "custom_fields", "fields", "is_public", "archived",
			"via_followup_source_id", "recipient", "forum_topic_id", "problem_id", "has_incidents", "due_at",
			"satisfaction_rating", "sharing_agreement_ids", "followup_ids", "brand_id", "ticket_form_id", "custom_status_id",
			"allow_channelback", "allow_attachments", "from_messaging_channel"} {
			if _, ok := tk[k]; !ok {
				t.Errorf("ticket lacks %q", k)
			}
		}
		want := map[string]any{"subject": "Refund", "raw_subject": "Refund", "description": "I was charged twice.",
			"status": "new", "priority": "normal", "submitter_id": float64(e.Agent.ID), "is_public": true, "archived": false,
			"allow_attachments": true, "group_id": nil}
		for k, v := range want {
			if tk[k] != v {
				t.Errorf("%s = %v, want %v", k, tk[k], v)
			}
		}
		if via := tk["via"].(map[string]any); via["channel"] != "api" {
			t.Errorf("via = %v", via)
		}
		if got := fmt.Sprint(tk["custom_fields"]); got != "[map[id:900 value:42] map[id:901 value:true]]" {
			t.Errorf("custom_fields = %s", got)
		}
		if got := fmt.Sprint(tk["tags"]); got != "[billing vip]" {
			t.Errorf("tags = %s", got)
		}
		tid := id(t, tk)
		if s, _ := e.Do("GET", fmt.Sprintf("/tickets/%d", tid), e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user GET ticket = %d, want 403", s)
		}
	})
}

func TestTicketInlineRequester(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		t.Run("Found", func(t *testing.T) {
			tk, _ := e.mustTicket(map[string]any{"subject": "A",
				"requester": map[string]any{"name": "Someone Else", "email": "EVE@mergedesk.test", "locale_id": "8"}})
			if got := int64(tk["requester_id"].(float64)); got != e.EndUser.ID {
				t.Errorf("requester_id = %d, want the existing user %d", got, e.EndUser.ID)
			}
			u := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", e.EndUser.ID), nil), "user")
			if u["name"] != "Eve Enduser" {
				t.Errorf("existing requester was modified: name %v", u["name"])
			}
		})
		t.Run("Created", func(t *testing.T) {
			tk, audit := e.mustTicket(map[string]any{"subject": "B",
				"requester": map[string]any{"email": "new.person@example.com", "locale_id": "8"}})
			rid := int64(tk["requester_id"].(float64))
			u := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", rid), nil), "user")
			if u["name"] != "new.person" || u["email"] != "new.person@example.com" || u["verified"] != false ||
				u["role"] != "end-user" || u["locale_id"] != float64(8) {
				t.Errorf("new requester = %v", u)
			}
			if ev := fieldEvent(t, audit, "Create", "requester_id"); ev == nil || ev["value"] != fmt.Sprint(rid) {
				t.Errorf("Create requester_id event = %v, want value %q (a string)", ev, fmt.Sprint(rid))
			}
		})
		t.Run("ErrInactive", func(t *testing.T) {
			u := obj(t, e.Must(http.StatusCreated, "POST", "/users", map[string]any{"user": map[string]any{"name": "Gone", "email": "gone@example.com"}}), "user")
			e.Must(http.StatusOK, "DELETE", fmt.Sprintf("/users/%d", id(t, u)), nil)
			s, m := e.Do("POST", "/tickets", e.AdminToken, map[string]any{"ticket": map[string]any{
				"requester_id": id(t, u), "comment": map[string]any{"body": "x"}}})
			if s != http.StatusUnprocessableEntity || detailCode(m, "requester_id") != "UserInactive" {
				t.Errorf("inactive requester = %d %v", s, m)
			}
		})
		t.Run("ErrNoComment", func(t *testing.T) {
			s, m := e.Do("POST", "/tickets", e.AdminToken, map[string]any{"ticket": map[string]any{
				"requester_id": e.EndUser.ID, "comment": map[string]any{}}})
			if s != http.StatusUnprocessableEntity || detailCode(m, "description") != "BlankValue" {
				t.Errorf("no comment = %d %v", s, m)
			}
			tk, _ := e.mustTicket(map[string]any{"requester_id": e.EndUser.ID, "comment": nil, "description": "Legacy"})
			if tk["description"] != "Legacy" {
				t.Errorf("description = %v", tk["description"])
			}
		})
	})
}

func TestTicketCCForms(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		bo := obj(t, e.Must(http.StatusCreated, "POST", "/users", map[string]any{"user": map[string]any{"name": "Bo", "email": "bo@example.com"}}), "user")
		boID := id(t, bo)
		tk, audit := e.mustTicket(map[string]any{"subject": "CCs", "requester_id": e.EndUser.ID,
			"collaborators": []any{boID, "cy@example.com", map[string]any{"name": "Di Named", "email": "di@example.com"},
				e.EndUser.ID, fmt.Sprint(e.Agent.ID)}})
		ccs := ids(t, tk["email_cc_ids"])
		if len(ccs) != 4 || slices.Contains(ccs, e.EndUser.ID) || !slices.Contains(ccs, boID) || !slices.Contains(ccs, e.Agent.ID) {
			t.Fatalf("email_cc_ids = %v: want bo, cy, di and the agent, never the requester", ccs)
		}
		if !slices.Equal(ids(t, tk["collaborator_ids"]), ccs) {
			t.Errorf("collaborator_ids = %v, want %v", tk["collaborator_ids"], ccs)
		}
		di := e.Must(http.StatusOK, "GET", "/users/search?query=di@example.com", nil)["users"].([]any)
		if len(di) != 1 || di[0].(map[string]any)["name"] != "Di Named" {
			t.Errorf("CC created from {name,email} = %v", di)
		}
		if ev := events(t, audit, "EmailCcChange"); len(ev) != 1 || len(ev[0]["current_email_ccs"].([]any)) != 4 {
			t.Errorf("EmailCcChange on create = %v", ev)
		} else if _, ok := ev[0]["current_email_ccs"].([]any)[0].(string); !ok {
			t.Errorf("CC ids must be strings: %v", ev[0])
		}
		tid := id(t, tk)

		// Zendesk's action form: remove bo by email, put a new one by email, add the
		// requester (dropped), and one more through additional_collaborators.
		m := e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", tid), map[string]any{"ticket": map[string]any{
			"email_ccs": []any{
				map[string]any{"user_email": "BO@example.com", "action": "delete"},
				map[string]any{"user_email": "ed@example.com", "user_name": "Ed", "action": "put"},
				map[string]any{"user_id": fmt.Sprint(e.EndUser.ID), "action": "put"}},
			"additional_collaborators": []any{"fay@example.com"},
			"followers":                []any{map[string]any{"user_id": e.Admin.ID, "action": "put"}}}})
		tk, audit = obj(t, m, "ticket"), obj(t, m, "audit")
		ccs = ids(t, tk["email_cc_ids"])
		if len(ccs) != 5 || slices.Contains(ccs, boID) || slices.Contains(ccs, e.EndUser.ID) {
			t.Errorf("email_cc_ids after update = %v", ccs)
		}
		if got := ids(t, tk["follower_ids"]); !slices.Equal(got, []int64{e.Admin.ID}) {
			t.Errorf("follower_ids = %v", got)
		}
		if got := ids(t, tk["collaborator_ids"]); len(got) != 6 {
			t.Errorf("collaborator_ids = %v, want CCs and followers", got)
		}
		cc := events(t, audit, "EmailCcChange")
		if len(cc) != 1 || !slices.Contains(cc[0]["previous_email_ccs"].([]any), any(fmt.Sprint(boID))) ||
			slices.Contains(cc[0]["current_email_ccs"].([]any), any(fmt.Sprint(boID))) {
			t.Errorf("EmailCcChange = %v", cc)
		}
		if fc := events(t, audit, "FollowerChange"); len(fc) != 1 || fmt.Sprint(fc[0]["current_followers"]) != fmt.Sprintf("[%d]", e.Admin.ID) {
			t.Errorf("FollowerChange = %v", fc)
		}

		// collaborators on an update replaces the list; changing the requester to a
		// CC'd user drops them from it.
		m = e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", tid), map[string]any{"ticket": map[string]any{
			"collaborators": []any{boID, e.Agent.ID}, "requester_id": boID}})
		if got := ids(t, obj(t, m, "ticket")["email_cc_ids"]); !slices.Equal(got, []int64{e.Agent.ID}) {
			t.Errorf("email_cc_ids after replace = %v, want just the agent", got)
		}
		if s, m := e.Do("PUT", fmt.Sprintf("/tickets/%d", tid), e.AdminToken, map[string]any{"ticket": map[string]any{
			"followers": []any{map[string]any{"user_id": boID, "action": "put"}}}}); s != 422 || detailCode(m, "followers") != "InvalidValue" {
			t.Errorf("end user as follower = %d %v", s, m)
		}
		if s, m := e.Do("PUT", fmt.Sprintf("/tickets/%d", tid), e.AdminToken, map[string]any{"ticket": map[string]any{
			"collaborators": []any{999999}}}); s != 422 {
			t.Errorf("unknown CC id = %d %v", s, m)
		}
		// ccd list.
		got := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/tickets/ccd", e.Agent.ID), nil)
		if got["count"] != float64(1) {
			t.Errorf("ccd = %v", got)
		}
	})
}

func TestTicketUpdateAudit(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		tk, _ := e.mustTicket(map[string]any{"subject": "Old", "requester_id": e.EndUser.ID, "tags": []string{"a"}})
		tid := id(t, tk)
		m := e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d.json", tid), map[string]any{"ticket": map[string]any{
			"subject": "New", "assignee_id": e.Agent.ID, "priority": "high", "tags": []string{"a", "b"},
			"comment": map[string]any{"body": "Looking.", "public": false}}})
		tk, audit := obj(t, m, "ticket"), obj(t, m, "audit")
		if tk["status"] != "open" {
			t.Errorf("status = %v: an assignee on a new ticket opens it", tk["status"])
		}
		if tk["description"] != "Help me." || tk["is_public"] != true {
			t.Errorf("description/is_public changed: %v %v", tk["description"], tk["is_public"])
		}
		want := map[string][2]any{"subject": {"New", "Old"}, "status": {"open", "new"},
			"assignee_id": {fmt.Sprint(e.Agent.ID), nil}, "priority": {"high", nil}}
		for f, w := range want {
			ev := fieldEvent(t, audit, "Change", f)
			if ev == nil || ev["value"] != w[0] || ev["previous_value"] != w[1] {
				t.Errorf("Change %s = %v, want %v", f, ev, w)
			}
		}
		if ev := fieldEvent(t, audit, "Change", "tags"); ev == nil || fmt.Sprint(ev["value"], ev["previous_value"]) != "[a b] [a]" {
			t.Errorf("Change tags = %v", ev)
		}
		cm := events(t, audit, "Comment")
		if len(cm) != 1 || cm[0]["public"] != false || cm[0]["body"] != "Looking." || cm[0]["author_id"] != float64(e.Admin.ID) ||
			cm[0]["audit_id"] != audit["id"] || cm[0]["plain_body"] != "Looking." || cm[0]["html_body"] == "" {
			t.Errorf("Comment event = %v", cm)
		}
		if audit["author_id"] != float64(e.Admin.ID) || obj(t, audit, "via")["channel"] != "api" {
			t.Errorf("audit = %v", audit)
		}

		// The audit list, one audit, count, comments.
		as := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits", tid), nil)
		if as["count"] != float64(2) || len(as["audits"].([]any)) != 2 {
			t.Fatalf("audits = %v", as)
		}
		first := as["audits"].([]any)[0].(map[string]any)
		if fieldEvent(t, first, "Create", "subject")["value"] != "Old" || fieldEvent(t, first, "Create", "status")["value"] != "new" {
			t.Errorf("Create events = %v", first["events"])
		}
		if ev := fieldEvent(t, first, "Create", "assignee_id"); ev != nil {
			t.Errorf("Create event for an unset assignee: %v", ev)
		}
		cur := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits?page[size]=1", tid), nil)
		if meta := obj(t, cur, "meta"); meta["has_more"] != true || len(cur["audits"].([]any)) != 1 {
			t.Errorf("cursor audits = %v", cur)
		}
		one := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits/%d", tid, id(t, audit)), nil), "audit")
		if one["id"] != audit["id"] {
			t.Errorf("audit = %v", one)
		}
		if c := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits/count", tid), nil), "count"); c["value"] != float64(2) {
			t.Errorf("count = %v", c)
		}
		cs := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/comments", tid), nil)["comments"].([]any)
		if len(cs) != 2 || cs[0].(map[string]any)["body"] != "Help me." || cs[1].(map[string]any)["public"] != false {
			t.Errorf("comments = %v", cs)
		}
		c0 := cs[0].(map[string]any)
		if c0["type"] != "Comment" || obj(t, c0, "via")["channel"] != "api" || c0["attachments"] == nil {
			t.Errorf("comment shape = %v", c0)
		}
		desc := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/comments?sort_order=desc", tid), nil)["comments"].([]any)
		if desc[0].(map[string]any)["body"] != "Looking." {
			t.Errorf("comments desc = %v", desc)
		}
		if s, _ := e.Do("GET", fmt.Sprintf("/tickets/%d/audits/%d", tid+1000, id(t, audit)), e.AdminToken, nil); s != 404 {
			t.Errorf("audit of unknown ticket = %d", s)
		}

		// An invalid assignee or status gives 422.
		for _, body := range []map[string]any{{"assignee_id": e.EndUser.ID}, {"status": "bogus"}, {"group_id": 424242}} {
			if s, m := e.Do("PUT", fmt.Sprintf("/tickets/%d", tid), e.AdminToken, map[string]any{"ticket": body}); s != 422 {
				t.Errorf("PUT %v = %d %v, want 422", body, s, m)
			}
		}
	})
}

func TestTicketClosedRefusesUpdates(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		tk, _ := e.mustTicket(map[string]any{"requester_id": e.EndUser.ID})
		tid := id(t, tk)
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", tid), map[string]any{"ticket": map[string]any{"status": "closed"}})
		for _, body := range []map[string]any{{"status": "open"}, {"comment": map[string]any{"body": "again"}}, {"tags": []string{"x"}}} {
			s, m := e.Do("PUT", fmt.Sprintf("/tickets/%d", tid), e.AdminToken, map[string]any{"ticket": body})
			if s != http.StatusUnprocessableEntity || detailCode(m, "status") != "ClosedTicket" {
				t.Errorf("PUT %v on closed = %d %v", body, s, m)
			}
		}
	})
}

func TestTicketSafeUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		tk, _ := e.mustTicket(map[string]any{"requester_id": e.EndUser.ID})
		tid := id(t, tk)
		stale := "2001-01-01T00:00:00Z"
		s, m := e.Do("PUT", fmt.Sprintf("/tickets/%d", tid), e.AdminToken, map[string]any{"ticket": map[string]any{
			"subject": "x", "safe_update": true, "updated_stamp": stale}})
		if s != http.StatusConflict || m["error"] != "UpdateConflict" {
			t.Errorf("stale safe_update = %d %v", s, m)
		}
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", tid), map[string]any{"ticket": map[string]any{
			"subject": "y", "safe_update": true, "updated_stamp": tk["updated_at"]}})
		// Without safe_update a stale stamp is ignored.
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", tid), map[string]any{"ticket": map[string]any{
			"subject": "z", "updated_stamp": stale}})
	})
}

func TestTicketOrganizationDefaultAndRouting(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		g := obj(t, e.Must(http.StatusCreated, "POST", "/groups", map[string]any{"group": map[string]any{"name": "Billing"}}), "group")
		acme := obj(t, e.Must(http.StatusCreated, "POST", "/organizations", map[string]any{"organization": map[string]any{
			"name": "Acme", "group_id": id(t, g)}}), "organization")
		other := obj(t, e.Must(http.StatusCreated, "POST", "/organizations", map[string]any{"organization": map[string]any{"name": "Other"}}), "organization")
		ann := obj(t, e.Must(http.StatusCreated, "POST", "/users", map[string]any{"user": map[string]any{
			"name": "Ann", "email": "ann@acme.test", "organization_id": id(t, acme)}}), "user")

		tk, audit := e.mustTicket(map[string]any{"requester_id": id(t, ann)})
		if tk["organization_id"] != acme["id"] || tk["group_id"] != g["id"] {
			t.Errorf("organization_id, group_id = %v, %v; want %v, %v", tk["organization_id"], tk["group_id"], acme["id"], g["id"])
		}
		if ev := fieldEvent(t, audit, "Create", "group_id"); ev == nil || ev["value"] != fmt.Sprint(id(t, g)) {
			t.Errorf("Create group_id = %v", ev)
		}
		// An explicit group wins over routing; a group_id of 0 is null and routes.
		tk, _ = e.mustTicket(map[string]any{"requester_id": id(t, ann), "group_id": nil})
		if tk["group_id"] != nil {
			t.Errorf("explicit null group = %v", tk["group_id"])
		}
		s, m := e.Do("POST", "/tickets", e.AdminToken, map[string]any{"ticket": map[string]any{
			"requester_id": id(t, ann), "organization_id": id(t, other), "comment": map[string]any{"body": "x"}}})
		if s != http.StatusUnprocessableEntity || detailCode(m, "organization_id") == "" {
			t.Errorf("foreign organization = %d %v", s, m)
		}
		tk, _ = e.mustTicket(map[string]any{"requester_id": e.EndUser.ID})
		if tk["organization_id"] != nil || tk["group_id"] != nil {
			t.Errorf("no organization: %v %v", tk["organization_id"], tk["group_id"])
		}
		// M12: a later requester change keeps the organization.
		tk, _ = e.mustTicket(map[string]any{"requester_id": id(t, ann)})
		m = e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", id(t, tk)), map[string]any{"ticket": map[string]any{"requester_id": e.EndUser.ID}})
		if obj(t, m, "ticket")["organization_id"] != acme["id"] {
			t.Errorf("organization after requester change = %v", obj(t, m, "ticket")["organization_id"])
		}
		list := e.Must(http.StatusOK, "GET", fmt.Sprintf("/organizations/%d/tickets", id(t, acme)), nil)
		if list["count"] != float64(3) {
			t.Errorf("organization tickets count = %v", list["count"])
		}
	})
}

func TestTicketImportArchived(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		body := map[string]any{"ticket": map[string]any{
			"subject": "Old history", "requester": map[string]any{"name": "Hal", "email": "hal@example.com"},
			"status": "closed", "created_at": "2020-01-01T10:00:00Z", "updated_at": "2020-01-03T10:00:00Z",
			"solved_at": "2020-01-02T10:00:00Z", "tags": []string{"legacy"},
			"comments": []any{
				map[string]any{"author_id": e.Agent.ID, "value": "First.", "created_at": "2020-01-01T10:00:00Z"},
				map[string]any{"author_id": e.Agent.ID, "html_body": "<p>Second <b>reply</b></p>", "public": false, "created_at": "2020-01-02T09:00:00Z"},
			}}}
		if s, _ := e.Do("POST", "/imports/tickets", e.AgentToken, body); s != http.StatusForbidden {
			t.Errorf("agent import = %d, want 403", s)
		}
		m := e.Must(http.StatusCreated, "POST", "/imports/tickets?archive_immediately=true", body)
		if _, ok := m["audit"]; ok {
			t.Errorf("import response has an audit key: %v", m)
		}
		tk := obj(t, m, "ticket")
		if tk["archived"] != true || tk["status"] != "closed" || tk["created_at"] != "2020-01-01T10:00:00Z" ||
			tk["updated_at"] != "2020-01-03T10:00:00Z" || tk["description"] != "First." || obj(t, tk, "via")["channel"] != "import" {
			t.Errorf("imported ticket = %v", tk)
		}
		tid := id(t, tk)
		as := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits", tid), nil)["audits"].([]any)
		if len(as) != 2 {
			t.Fatalf("audits = %v", as)
		}
		a0, a1 := as[0].(map[string]any), as[1].(map[string]any)
		if a0["created_at"] != "2020-01-01T10:00:00Z" || a1["created_at"] != "2020-01-02T09:00:00Z" {
			t.Errorf("audit dates = %v, %v", a0["created_at"], a1["created_at"])
		}
		if len(events(t, a0, "Create")) == 0 || len(events(t, a1, "Create")) != 0 || len(events(t, a1, "Comment")) != 1 {
			t.Errorf("audit events = %v / %v", a0["events"], a1["events"])
		}
		if c := events(t, a1, "Comment")[0]; c["body"] != "Second reply" || c["public"] != false {
			t.Errorf("html comment = %v", c)
		}
		if s, m := e.Do("PUT", fmt.Sprintf("/tickets/%d", tid), e.AdminToken, map[string]any{"ticket": map[string]any{"subject": "x"}}); s != 422 || detailCode(m, "status") != "ClosedTicket" {
			t.Errorf("update archived = %d %v", s, m)
		}
		// Archived and closed tickets stay in the requester's list.
		rid := int64(tk["requester_id"].(float64))
		list := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/tickets/requested", rid), nil)
		if list["count"] != float64(1) || list["tickets"].([]any)[0].(map[string]any)["archived"] != true {
			t.Errorf("requested = %v", list)
		}
		// Without archive_immediately a closed import is not archived.
		m = e.Must(http.StatusCreated, "POST", "/imports/tickets", body)
		if obj(t, m, "ticket")["archived"] != false {
			t.Errorf("archived without the flag")
		}
	})
}

func TestTicketCreateManyJob(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		js := obj(t, e.Must(http.StatusOK, "POST", "/tickets/create_many", map[string]any{"tickets": []any{
			map[string]any{"subject": "One", "requester_id": e.EndUser.ID, "comment": map[string]any{"body": "1"}},
			map[string]any{"subject": "Two", "requester_id": e.EndUser.ID},
		}}), "job_status")
		if js["job_type"] != "bulk_create_tickets" {
			t.Errorf("job_type = %v", js["job_type"])
		}
		js = waitJob(t, e, js["id"].(string))
		res := js["results"].([]any)
		if r0 := res[0].(map[string]any); r0["success"] != true || r0["id"] == nil {
			t.Errorf("result 0 = %v", r0)
		}
		if r1 := res[1].(map[string]any); r1["success"] != false || r1["error"] != "BlankValue" {
			t.Errorf("result 1 = %v", r1)
		}
		many := make([]any, 101)
		for i := range many {
			many[i] = map[string]any{}
		}
		if s, m := e.Do("POST", "/tickets/create_many", e.AdminToken, map[string]any{"tickets": many}); s != 400 || m["error"] != "TooManyValues" {
			t.Errorf("101 tickets = %d %v", s, m)
		}

		js = obj(t, e.Must(http.StatusOK, "POST", "/imports/tickets/create_many?archive_immediately=true", map[string]any{"tickets": []any{
			map[string]any{"requester_id": e.EndUser.ID, "status": "closed", "comments": []any{map[string]any{"value": "old"}}},
		}}), "job_status")
		js = waitJob(t, e, js["id"].(string))
		r0 := js["results"].([]any)[0].(map[string]any)
		if r0["success"] != true {
			t.Fatalf("import job = %v", js)
		}
		tk := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d", int64(r0["id"].(float64))), nil), "ticket")
		if tk["archived"] != true {
			t.Errorf("bulk import not archived: %v", tk)
		}
	})
}

func waitJob(t *testing.T, e *env, jid string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		js := obj(t, e.Must(http.StatusOK, "GET", "/job_statuses/"+jid, nil), "job_status")
		if js["status"] == "completed" || js["status"] == "failed" {
			return js
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", jid)
	return nil
}

func TestTicketDeleteAndNotFound(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		tk, _ := e.mustTicket(map[string]any{"requester_id": e.EndUser.ID, "external_id": "ext-1"})
		keep, _ := e.mustTicket(map[string]any{"requester_id": e.EndUser.ID, "external_id": "ext-2"})
		tid := id(t, tk)
		if got := e.Must(http.StatusOK, "GET", "/tickets?external_id=ext-1", nil); got["count"] != float64(1) {
			t.Errorf("external_id filter = %v", got)
		}
		e.Must(http.StatusNoContent, "DELETE", fmt.Sprintf("/tickets/%d", tid), nil)
		for _, p := range []string{"/tickets/%d", "/tickets/%d/audits", "/tickets/%d/comments", "/tickets/%d/audits/count"} {
			if s, m := e.Do("GET", fmt.Sprintf(p, tid), e.AdminToken, nil); s != 404 || m["error"] != "RecordNotFound" {
				t.Errorf("GET %s after delete = %d %v", p, s, m)
			}
		}
		for _, method := range []string{"PUT", "DELETE"} {
			if s, _ := e.Do(method, fmt.Sprintf("/tickets/%d", tid), e.AdminToken, map[string]any{"ticket": map[string]any{}}); s != 404 {
				t.Errorf("%s deleted = %d", method, s)
			}
		}
		if got := e.Must(http.StatusOK, "GET", "/tickets", nil); got["count"] != float64(1) {
			t.Errorf("list after delete = %v", got["count"])
		}
		sm := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/show_many?ids=%d,%d,999999", tid, id(t, keep)), nil)
		if sm["count"] != float64(1) {
			t.Errorf("show_many = %v", sm)
		}
		if s, _ := e.Do("GET", "/tickets/999999", e.AdminToken, nil); s != 404 {
			t.Errorf("unknown ticket = %d", s)
		}
		if s, _ := e.Do("GET", "/users/999999/tickets/requested", e.AdminToken, nil); s != 404 {
			t.Errorf("unknown user tickets = %d", s)
		}
		if s, _ := e.Do("GET", "/organizations/999999/tickets", e.AdminToken, nil); s != 404 {
			t.Errorf("unknown organization tickets = %d", s)
		}
		if s, m := e.Do("POST", "/tickets", e.AdminToken, `{"ticket": {"subject": `); s != 400 || m["error"] != "InvalidJSON" {
			t.Errorf("malformed JSON = %d %v", s, m)
		}
		if s, m := e.Do("POST", "/tickets", e.AdminToken, `{"subject":"x"}`); s != 400 || m["error"] != "ParameterMissing" {
			t.Errorf("missing wrapper = %d %v", s, m)
		}
	})
}

func TestTicketListSortAndUserLists(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		var all []int64
		for _, p := range []string{"low", "urgent", "normal"} {
			tk, _ := e.mustTicket(map[string]any{"requester_id": e.EndUser.ID, "priority": p, "assignee_id": e.Agent.ID})
			all = append(all, id(t, tk))
		}
		// Close one: closed tickets stay listed.
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", all[0]), map[string]any{"ticket": map[string]any{"status": "closed"}})
		got := ids(t, pluck(e.Must(http.StatusOK, "GET", "/tickets?sort_by=priority&sort_order=desc", nil)["tickets"]))
		if want := []int64{all[1], all[2], all[0]}; !slices.Equal(got, want) {
			t.Errorf("by priority desc = %v, want %v", got, want)
		}
		// Cursor pages over a non-id sort.
		var seen []int64
		path := "/tickets?sort_by=priority&page[size]=1"
		for i := 0; i < 5 && path != ""; i++ {
			m := e.Must(http.StatusOK, "GET", path, nil)
			seen = append(seen, ids(t, pluck(m["tickets"]))...)
			next, _ := obj(t, m, "links")["next"].(string)
			path = strings.TrimPrefix(next, e.URL)
		}
		if want := []int64{all[0], all[2], all[1]}; !slices.Equal(seen, want) {
			t.Errorf("cursor by priority = %v, want %v", seen, want)
		}
		for _, p := range []string{"requested", "assigned"} {
			who := e.EndUser.ID
			if p == "assigned" {
				who = e.Agent.ID
			}
			if m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/tickets/%s", who, p), nil); m["count"] != float64(3) {
				t.Errorf("%s = %v", p, m["count"])
			}
		}
		if s, _ := e.Do("GET", "/tickets?page[after]=!!", e.AdminToken, nil); s != 400 {
			t.Errorf("bad cursor = %d", s)
		}
	})
}

// pluck returns the ids of a list of objects as a JSON-like array.
func pluck(v any) []any {
	var out []any
	for _, x := range v.([]any) {
		out = append(out, x.(map[string]any)["id"])
	}
	return out
}
