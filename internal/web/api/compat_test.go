package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nukosuke/go-zendesk/zendesk"
)

// These tests drive the server with a real Zendesk client written by others
// (go-zendesk v0.18.0): if it works against Mergedesk, integrations will
// (docs/api.md "Compatibility notes").

const (
	adminEmail   = "admin@mergedesk.test"
	agentEmail   = "agent@mergedesk.test"
	endUserEmail = "eve@mergedesk.test"
)

// zclient returns a go-zendesk client for the test server, authenticated with
// the Zendesk API-token scheme ("{email}/token:{token}").
func zclient(t testing.TB, e *env, email, token string) *zendesk.Client {
	t.Helper()
	c, err := zendesk.NewClient(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetEndpointURL(e.URL); err != nil {
		t.Fatal(err)
	}
	c.SetCredential(zendesk.NewAPITokenCredential(email, token))
	return c
}

// zstatus returns the HTTP status of a go-zendesk error, or 0.
func zstatus(err error) int {
	var ze zendesk.Error
	if errors.As(err, &ze) {
		return ze.Status()
	}
	return 0
}

// mustZ fails the test when a client call failed.
func mustZ(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// num returns m[key] as an int64 (0 when absent or not a number).
func num(m map[string]any, key string) int64 {
	f, _ := m[key].(float64)
	return int64(f)
}

// idsOf returns the numeric ids of a list of objects.
func idsOf(list []any) []int64 {
	var out []int64
	for _, v := range list {
		if m, ok := v.(map[string]any); ok {
			out = append(out, num(m, "id"))
		}
	}
	return out
}

// mkUser creates an end user through the API and returns its id.
func mkUser(t testing.TB, e *env, body map[string]any) int64 {
	t.Helper()
	status, m := e.Do("POST", "/users", e.AdminToken, map[string]any{"user": body})
	if status != http.StatusCreated {
		t.Fatalf("create user %v = %d %v", body, status, m)
	}
	return num(obj(t, m, "user"), "id")
}

// pollJob polls a job status until it is completed or failed.
func pollJob(t testing.TB, e *env, jobID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s, m := e.Do("GET", "/job_statuses/"+jobID, e.AdminToken, nil)
		if s != http.StatusOK {
			t.Fatalf("GET job %s = %d %v", jobID, s, m)
		}
		js := obj(t, m, "job_status")
		if js["status"] == "completed" || js["status"] == "failed" {
			return js
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not finish: %v", jobID, js)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCompatUsers(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := zclient(t, e, adminEmail, e.AdminToken)

		// go-zendesk sends "name", "user_fields":null, "photo":{} and zero timestamps.
		u, err := z.CreateUser(ctx, zendesk.User{Name: "Ann Lee", Email: "ann@example.com", Phone: "+1 415-555-0101",
			ExternalID: "crm-1", Tags: []string{"vip"}, Verified: true})
		mustZ(t, "CreateUser", err)
		if u.ID == 0 || u.Name != "Ann Lee" || u.Email != "ann@example.com" || u.Phone != "+14155550101" || u.Role != "end-user" {
			t.Errorf("CreateUser = %+v", u)
		}
		if want := e.URL + fmt.Sprintf("/users/%d.json", u.ID); u.URL != want {
			t.Errorf("url = %q, want %q", u.URL, want)
		}
		if !u.Active || !u.Verified || u.CreatedAt.IsZero() {
			t.Errorf("active, verified, created_at = %v, %v, %v", u.Active, u.Verified, u.CreatedAt)
		}

		got, err := z.GetUser(ctx, u.ID)
		mustZ(t, "GetUser", err)
		if got.ID != u.ID || got.ExternalID != "crm-1" || !slices.Equal(got.Tags, []string{"vip"}) {
			t.Errorf("GetUser = %+v", got)
		}
		if _, err := z.GetUser(ctx, 987654321); zstatus(err) != http.StatusNotFound {
			t.Errorf("GetUser(unknown) err = %v, want 404", err)
		}

		bo, err := z.CreateUser(ctx, zendesk.User{Name: "Bo Rang", Email: "bo@example.com"})
		mustZ(t, "CreateUser bo", err)
		many, page, err := z.GetManyUsers(ctx, &zendesk.GetManyUsersOptions{IDs: fmt.Sprintf("%d,%d,987654321", u.ID, bo.ID)})
		mustZ(t, "GetManyUsers", err)
		var manyIDs []int64
		for _, m := range many {
			manyIDs = append(manyIDs, m.ID)
		}
		slices.Sort(manyIDs)
		if !slices.Equal(manyIDs, []int64{u.ID, bo.ID}) || page.Count != 2 || page.HasNext() {
			t.Errorf("GetManyUsers = %v, page %+v", manyIDs, page)
		}
		byExt, _, err := z.GetManyUsers(ctx, &zendesk.GetManyUsersOptions{ExternalIDs: "CRM-1"})
		mustZ(t, "GetManyUsers external_ids", err)
		if len(byExt) != 1 || byExt[0].ID != u.ID {
			t.Errorf("GetManyUsers(external_ids) = %+v", byExt)
		}

		// UpdateUser: go-zendesk always sends "name" (here ""), which means no change.
		upd, err := z.UpdateUser(ctx, u.ID, zendesk.User{Notes: "called twice", Timezone: "Berlin"})
		mustZ(t, "UpdateUser", err)
		if upd.Name != "Ann Lee" || upd.Notes != "called twice" || upd.Timezone != "Berlin" || upd.IanaTimezone != "Europe/Berlin" {
			t.Errorf("UpdateUser = name %q notes %q tz %q iana %q", upd.Name, upd.Notes, upd.Timezone, upd.IanaTimezone)
		}

		// CreateOrUpdateUser: 201 on create, 200 on update; go-zendesk accepts both.
		c1, err := z.CreateOrUpdateUser(ctx, zendesk.User{Name: "Cy Twombly", Email: "cy@example.com", ExternalID: "crm-cy"})
		mustZ(t, "CreateOrUpdateUser (create)", err)
		c2, err := z.CreateOrUpdateUser(ctx, zendesk.User{Name: "Cy T.", ExternalID: "crm-cy"})
		mustZ(t, "CreateOrUpdateUser (update)", err)
		if c1.ID == 0 || c2.ID != c1.ID || c2.Name != "Cy T." {
			t.Errorf("CreateOrUpdateUser = %d then %d %q", c1.ID, c2.ID, c2.Name)
		}
		// The statuses themselves, with the body go-zendesk sends.
		body := map[string]any{"user": zendesk.User{Name: "Di Fresh", Email: "di@example.com"}}
		for i, want := range []int{http.StatusCreated, http.StatusOK} {
			req, _ := json.Marshal(body)
			status, raw := e.DoRaw("POST", "/users/create_or_update.json", e.AdminToken, req)
			if status != want {
				t.Errorf("create_or_update #%d = %d, want %d: %s", i, status, want, raw)
			}
		}
		// Matching by email against any email identity, not only the primary.
		s, m := e.Do("PUT", fmt.Sprintf("/users/%d", bo.ID), e.AdminToken, map[string]any{"user": map[string]any{"email": "bo.second@example.com"}})
		if s != http.StatusOK {
			t.Fatalf("add secondary email = %d %v", s, m)
		}
		s, m = e.Do("POST", "/users/create_or_update", e.AdminToken, map[string]any{"user": map[string]any{"email": "BO.second@example.com", "notes": "x"}})
		if s != http.StatusOK || num(obj(t, m, "user"), "id") != bo.ID {
			t.Errorf("create_or_update matching a secondary email = %d %v, want 200 for user %d", s, m, bo.ID)
		}

		rel, err := z.GetUserRelated(ctx, u.ID)
		mustZ(t, "GetUserRelated", err)
		if rel != (zendesk.UserRelated{}) {
			t.Errorf("GetUserRelated = %+v, want zeros", rel)
		}

		// SearchUsers: query grammar and exact external_id.
		found, page, err := z.SearchUsers(ctx, &zendesk.SearchUsersOptions{Query: "email:ann@example.com"})
		mustZ(t, "SearchUsers query", err)
		if len(found) != 1 || found[0].ID != u.ID || page.Count != 1 {
			t.Errorf("SearchUsers(email:) = %+v, count %d", found, page.Count)
		}
		found, _, err = z.SearchUsers(ctx, &zendesk.SearchUsersOptions{ExternalIDs: "crm-1"})
		mustZ(t, "SearchUsers external_id", err)
		if len(found) != 1 || found[0].ID != u.ID {
			t.Errorf("SearchUsers(external_id) = %+v", found)
		}
		found, _, err = z.SearchUsers(ctx, &zendesk.SearchUsersOptions{Query: `phone:"(415) 555-0101"`})
		mustZ(t, "SearchUsers phone", err)
		if len(found) != 1 || found[0].ID != u.ID {
			t.Errorf("SearchUsers(phone) = %+v", found)
		}
	})
}

func TestCompatDeleteUser(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		uid := mkUser(t, e, map[string]any{"name": "Gone Soon", "email": "gone@example.com", "external_id": "g-1"})
		s, m := e.Do("DELETE", fmt.Sprintf("/users/%d", uid), e.AdminToken, nil)
		if s != http.StatusOK {
			t.Fatalf("DELETE /users/%d = %d %v, want 200", uid, s, m)
		}
		u := obj(t, m, "user")
		if u["active"] != false || u["email"] != nil || u["external_id"] != nil {
			t.Errorf("deleted user = %v", u)
		}
		s, m = e.Do("GET", fmt.Sprintf("/users/%d.json", uid), e.AdminToken, nil)
		if s != http.StatusOK || obj(t, m, "user")["active"] != false {
			t.Errorf("GET deleted user = %d %v, want 200 active:false", s, m)
		}
		list := e.Must(http.StatusOK, "GET", "/users", nil)
		if slices.Contains(idsOf(list["users"].([]any)), uid) {
			t.Errorf("deleted user %d is still listed", uid)
		}
		// The released email can be used again.
		mkUser(t, e, map[string]any{"name": "New Owner", "email": "gone@example.com"})
		if s, m := e.Do("GET", fmt.Sprintf("/deleted_users/%d", uid), e.AdminToken, nil); s != http.StatusOK || obj(t, m, "deleted_user")["email"] != "gone@example.com" {
			t.Errorf("GET /deleted_users/%d = %d %v", uid, s, m)
		}
		// Deleting yourself gives 422.
		if s, m := e.Do("DELETE", fmt.Sprintf("/users/%d", e.Admin.ID), e.AdminToken, nil); s != http.StatusUnprocessableEntity {
			t.Errorf("delete self = %d %v, want 422", s, m)
		}
	})
}

func TestCompatIdentities(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		uid := mkUser(t, e, map[string]any{"name": "Ann Lee", "email": "ann@example.com"})
		base := fmt.Sprintf("/users/%d/identities", uid)

		s, m := e.Do("POST", base+".json", e.AdminToken, map[string]any{"identity": map[string]any{"type": "email", "value": "Ann.Lee@Corp.Example"}})
		if s != http.StatusCreated {
			t.Fatalf("POST identity = %d %v", s, m)
		}
		second := obj(t, m, "identity")
		sid := num(second, "id")
		if second["primary"] != false || second["verified"] != false || second["value"] != "Ann.Lee@Corp.Example" || num(second, "user_id") != uid {
			t.Errorf("new identity = %v", second)
		}
		if want := fmt.Sprintf("%s%s/%d.json", e.URL, base, sid); second["url"] != want {
			t.Errorf("identity url = %v, want %s", second["url"], want)
		}
		s, m = e.Do("POST", base, e.AdminToken, map[string]any{"identity": map[string]any{"type": "phone_number", "value": "(415) 555-0101"}})
		if s != http.StatusCreated || obj(t, m, "identity")["primary"] != true || obj(t, m, "identity")["value"] != "+14155550101" {
			t.Errorf("first phone identity = %d %v, want primary E.164", s, m)
		}

		list := e.Must(http.StatusOK, "GET", base, nil)["identities"].([]any)
		var order []string
		for _, v := range list {
			i := v.(map[string]any)
			order = append(order, fmt.Sprintf("%v/%v", i["type"], i["primary"]))
		}
		if want := []string{"email/true", "email/false", "phone_number/true"}; !slices.Equal(order, want) {
			t.Errorf("identity order = %v, want %v", order, want)
		}
		only := e.Must(http.StatusOK, "GET", base+"?type[]=phone_number", nil)["identities"].([]any)
		if len(only) != 1 {
			t.Errorf("type[] filter = %v", only)
		}

		s, m = e.Do("PUT", fmt.Sprintf("%s/%d", base, sid), e.AdminToken, map[string]any{"identity": map[string]any{"value": "ann.lee@corp2.example"}})
		if s != http.StatusOK || obj(t, m, "identity")["value"] != "ann.lee@corp2.example" {
			t.Errorf("PUT identity value = %d %v", s, m)
		}
		s, m = e.Do("PUT", fmt.Sprintf("%s/%d/verify", base, sid), e.AdminToken, nil)
		if s != http.StatusOK || obj(t, m, "identity")["verified"] != true || obj(t, m, "identity")["verification_method"] != "full" {
			t.Errorf("verify = %d %v", s, m)
		}
		s, raw := e.DoRaw("PUT", fmt.Sprintf("%s/%d/request_verification.json", base, sid), e.AdminToken, "null")
		if s != http.StatusOK || strings.TrimSpace(string(raw)) != "{}" {
			t.Errorf("request_verification = %d %s, want 200 {}", s, raw)
		}

		// make_primary answers with the whole list (a Zendesk quirk).
		s, m = e.Do("PUT", fmt.Sprintf("%s/%d/make_primary.json", base, sid), e.AdminToken, nil)
		if s != http.StatusOK {
			t.Fatalf("make_primary = %d %v", s, m)
		}
		ids, ok := m["identities"].([]any)
		if !ok || len(ids) != 3 {
			t.Fatalf("make_primary body = %v, want the whole identities list", m)
		}
		if first := ids[0].(map[string]any); num(first, "id") != sid || first["primary"] != true {
			t.Errorf("after make_primary first = %v", first)
		}
		if u := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", uid), nil), "user"); u["email"] != "ann.lee@corp2.example" {
			t.Errorf("user.email after make_primary = %v", u["email"])
		}

		// Deleting the primary promotes the oldest remaining identity of its type.
		s, raw = e.DoRaw("DELETE", fmt.Sprintf("%s/%d.json", base, sid), e.AdminToken, nil)
		if s != http.StatusNoContent || len(raw) != 0 {
			t.Errorf("DELETE identity = %d %q, want 204 without body", s, raw)
		}
		if s, _ := e.Do("GET", fmt.Sprintf("%s/%d", base, sid), e.AdminToken, nil); s != http.StatusNotFound {
			t.Errorf("GET deleted identity = %d, want 404", s)
		}
		if u := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", uid), nil), "user"); u["email"] != "ann@example.com" {
			t.Errorf("user.email after deleting the primary = %v, want ann@example.com", u["email"])
		}
	})
}

func TestCompatCreateManyUsersJob(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		mkUser(t, e, map[string]any{"name": "Bo", "email": "bo@example.com"})
		m := e.Must(http.StatusOK, "POST", "/users/create_many.json", map[string]any{"users": []any{
			map[string]any{"name": "Cy", "email": "cy@example.com"},
			map[string]any{"name": "Bo again", "email": "bo@example.com"},
			map[string]any{"name": "Di", "email": "di@example.com", "identities": []any{map[string]any{"type": "phone_number", "value": "+14155550199"}}},
		}})
		js := obj(t, m, "job_status")
		jid, ok := js["id"].(string)
		if !ok || jid == "" {
			t.Fatalf("job_status.id = %#v, want a string", js["id"])
		}
		if js["url"] != e.URL+"/job_statuses/"+jid+".json" || js["job_type"] != "bulk_create_users" || num(js, "total") != 3 {
			t.Errorf("job_status = %v", js)
		}
		if st := js["status"]; st != "queued" && st != "working" && st != "completed" {
			t.Errorf("initial status = %v", st)
		}
		js = pollJob(t, e, jid)
		res, _ := js["results"].([]any)
		if js["status"] != "completed" || num(js, "progress") != 3 || len(res) != 3 {
			t.Fatalf("finished job = %v", js)
		}
		for i, want := range []bool{true, false, true} {
			r := res[i].(map[string]any)
			if num(r, "index") != int64(i) || r["success"] != want {
				t.Errorf("result %d = %v", i, r)
			}
			if want && (r["status"] != "Created" || num(r, "id") == 0) {
				t.Errorf("result %d = %v, want Created with id", i, r)
			}
		}
		if r := res[1].(map[string]any); r["error"] != "DuplicateValue" {
			t.Errorf("duplicate result = %v", r)
		}
		many := e.Must(http.StatusOK, "GET", "/job_statuses/show_many?ids="+jid+",nope", nil)
		if l, _ := many["job_statuses"].([]any); len(l) != 1 {
			t.Errorf("show_many = %v", many)
		}
		if s, m := e.Do("GET", "/job_statuses/00000000000000000000000000000000", e.AdminToken, nil); s != http.StatusNotFound || m["error"] != "RecordNotFound" {
			t.Errorf("unknown job = %d %v", s, m)
		}
	})
}

func TestCompatTickets(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := zclient(t, e, agentEmail, e.AgentToken)
		cc := mkUser(t, e, map[string]any{"name": "Bo Rang", "email": "bo@example.com"})

		var collab zendesk.Collaborators
		mustZ(t, "append", collab.Append("cy@example.com"))
		mustZ(t, "append", collab.Append(zendesk.Collaborator{Name: "Di Fresh", Email: "di@example.com"}))
		mustZ(t, "append", collab.Append(cc))
		tk, err := z.CreateTicket(ctx, zendesk.Ticket{Subject: "Refund", Priority: "normal", Tags: []string{"billing"},
			Requester:     &zendesk.Requester{Name: "Ann Lee", Email: "ann@example.com", LocaleID: "8"},
			Collaborators: &collab,
			CustomFields:  []zendesk.CustomField{{ID: 900, Value: "gold"}, {ID: 901, Value: 42}},
			Comment:       &zendesk.TicketComment{Body: "I was charged twice."}})
		mustZ(t, "CreateTicket", err)
		if tk.ID == 0 || tk.Status != "new" || tk.Subject != "Refund" || tk.Description != "I was charged twice." || tk.SubmitterID != e.Agent.ID {
			t.Errorf("CreateTicket = %+v", tk)
		}
		if tk.Via == nil || tk.Via.Channel != "api" {
			t.Errorf("via = %+v", tk.Via)
		}
		if want := fmt.Sprintf("%s/tickets/%d.json", e.URL, tk.ID); tk.URL != want {
			t.Errorf("url = %q, want %q", tk.URL, want)
		}
		req := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", tk.RequesterID), nil), "user")
		if req["email"] != "ann@example.com" || req["name"] != "Ann Lee" || num(req, "locale_id") != 8 || req["role"] != "end-user" {
			t.Errorf("inline requester = %v", req)
		}
		if len(tk.EmailCCIDs) != 3 || !slices.Contains(tk.EmailCCIDs, cc) || len(tk.CollaboratorIDs) != 3 {
			t.Errorf("email_cc_ids = %v, collaborator_ids = %v", tk.EmailCCIDs, tk.CollaboratorIDs)
		}
		for _, f := range tk.CustomFields {
			if _, isNum := f.Value.(float64); isNum {
				t.Errorf("custom field %d value %v is a number", f.ID, f.Value)
			}
		}

		// The same requester email again: the existing user, not modified.
		tk2, err := z.CreateTicket(ctx, zendesk.Ticket{Subject: "Again", Requester: &zendesk.Requester{Name: "Other Name", Email: "ANN@example.com"},
			Comment: &zendesk.TicketComment{Body: "hello"}})
		mustZ(t, "CreateTicket (existing requester)", err)
		if tk2.RequesterID != tk.RequesterID {
			t.Errorf("requester = %d, want the existing %d", tk2.RequesterID, tk.RequesterID)
		}

		got, err := z.GetTicket(ctx, tk.ID)
		mustZ(t, "GetTicket", err)
		if got.ID != tk.ID || got.Priority != "normal" || !slices.Equal(got.Tags, []string{"billing"}) {
			t.Errorf("GetTicket = %+v", got)
		}

		upd, err := z.UpdateTicket(ctx, tk.ID, zendesk.Ticket{Status: "open", AssigneeID: e.Agent.ID, Tags: []string{"billing", "refund"}})
		mustZ(t, "UpdateTicket", err)
		if upd.Status != "open" || upd.AssigneeID != e.Agent.ID || upd.Subject != "Refund" {
			t.Errorf("UpdateTicket = %+v", upd)
		}
		_, err = z.CreateTicketComment(ctx, tk.ID, zendesk.NewPrivateTicketComment("internal note", e.Agent.ID))
		mustZ(t, "CreateTicketComment", err)
		comments := e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/comments", tk.ID), nil)["comments"].([]any)
		if len(comments) != 2 || comments[1].(map[string]any)["public"] != false || comments[1].(map[string]any)["body"] != "internal note" {
			t.Errorf("comments = %v", comments)
		}

		audits, page, err := z.GetTicketAudits(ctx, tk.ID, zendesk.PageOptions{})
		mustZ(t, "GetTicketAudits", err)
		if len(audits) != 3 || page.Count != 3 || page.HasNext() {
			t.Fatalf("GetTicketAudits = %d audits, page %+v", len(audits), page)
		}
		if audits[0].TicketID != tk.ID || audits[0].Via.Channel != "api" || audits[0].AuthorID != e.Agent.ID {
			t.Errorf("first audit = %+v", audits[0])
		}
		one, err := z.GetTicketAudit(ctx, tk.ID, audits[1].ID)
		mustZ(t, "GetTicketAudit", err)
		if one.ID != audits[1].ID {
			t.Errorf("GetTicketAudit = %+v", one)
		}

		// GetAllTicketAudits reads the legacy cursor form (admins only).
		za := zclient(t, e, adminEmail, e.AdminToken)
		all, cur, err := za.GetAllTicketAudits(ctx, zendesk.CursorOption{})
		mustZ(t, "GetAllTicketAudits", err)
		if len(all) != 4 {
			t.Errorf("GetAllTicketAudits = %d audits, want 4; cursor %+v", len(all), cur)
		}
		if _, _, err := z.GetAllTicketAudits(ctx, zendesk.CursorOption{}); zstatus(err) != http.StatusForbidden {
			t.Errorf("agent GetAllTicketAudits err = %v, want 403", err)
		}
		s, m := e.Do("GET", "/ticket_audits?limit=2", e.AdminToken, nil)
		if s != http.StatusOK {
			t.Fatalf("legacy /ticket_audits = %d %v", s, m)
		}
		for _, k := range []string{"audits", "before_cursor", "after_cursor", "before_url", "after_url"} {
			if _, ok := m[k]; !ok {
				t.Errorf("legacy /ticket_audits lacks %q: %v", k, m)
			}
		}
		if l, _ := m["audits"].([]any); len(l) != 2 {
			t.Errorf("limit=2 gave %d audits", len(l))
		}
		if after, _ := m["after_url"].(string); after != "" {
			s, m2 := e.Do("GET", strings.TrimPrefix(after, e.URL), e.AdminToken, nil)
			if l, _ := m2["audits"].([]any); s != http.StatusOK || len(l) != 2 {
				t.Errorf("following after_url = %d %v", s, m2)
			}
		}

		mustZ(t, "DeleteTicket", z.DeleteTicket(ctx, tk2.ID))
		if _, err := z.GetTicket(ctx, tk2.ID); zstatus(err) != http.StatusNotFound {
			t.Errorf("GetTicket(deleted) err = %v, want 404", err)
		}
	})
}

func TestCompatOrganizations(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := zclient(t, e, adminEmail, e.AdminToken)
		// go-zendesk always sends "group_id":0, "domain_names":null and "tags":null.
		org, err := z.CreateOrganization(ctx, zendesk.Organization{Name: "Acme", DomainNames: []string{"acme.com"}, ExternalID: "acme-1"})
		mustZ(t, "CreateOrganization", err)
		if org.ID == 0 || org.Name != "Acme" || org.GroupID != 0 || !slices.Equal(org.DomainNames, []string{"acme.com"}) {
			t.Errorf("CreateOrganization = %+v", org)
		}
		if want := fmt.Sprintf("%s/organizations/%d.json", e.URL, org.ID); org.URL != want {
			t.Errorf("url = %q, want %q", org.URL, want)
		}
		got, err := z.GetOrganization(ctx, org.ID)
		mustZ(t, "GetOrganization", err)
		if got.ID != org.ID || got.ExternalID != "acme-1" {
			t.Errorf("GetOrganization = %+v", got)
		}
		byExt, _, err := z.GetOrganizationByExternalID(ctx, "acme-1")
		mustZ(t, "GetOrganizationByExternalID", err)
		if len(byExt) != 1 || byExt[0].ID != org.ID {
			t.Errorf("GetOrganizationByExternalID = %+v", byExt)
		}
		if _, err := z.CreateOrganization(ctx, zendesk.Organization{Name: "ACME"}); zstatus(err) != http.StatusUnprocessableEntity {
			t.Errorf("duplicate name err = %v, want 422", err)
		}
		org2, err := z.CreateOrganization(ctx, zendesk.Organization{Name: "Beta"})
		mustZ(t, "CreateOrganization Beta", err)
		if org2.DomainNames == nil || org2.Tags == nil {
			t.Errorf("null domain_names/tags on create should give []: %+v", org2)
		}

		uid := mkUser(t, e, map[string]any{"name": "Ann Lee", "email": "ann@example.com"})
		m1, err := z.CreateOrganizationMembership(ctx, zendesk.OrganizationMembershipOptions{UserID: uid, OrganizationID: org2.ID})
		mustZ(t, "CreateOrganizationMembership", err)
		if !m1.Default || m1.Name != "Beta" || m1.UserID != uid {
			t.Errorf("first membership = %+v, want default", m1)
		}
		// A second organization needs users.multiple_organizations.
		_, err = z.CreateOrganizationMembership(ctx, zendesk.OrganizationMembershipOptions{UserID: uid, OrganizationID: org.ID})
		if zstatus(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "MultipleOrganizationsDisabled") {
			t.Errorf("second membership with the setting off: %v, want 422 MultipleOrganizationsDisabled", err)
		}
		e.Must(http.StatusOK, "PUT", "/account/settings", map[string]any{"settings": map[string]any{"users": map[string]any{"multiple_organizations": true}}})
		m2, err := z.CreateOrganizationMembership(ctx, zendesk.OrganizationMembershipOptions{UserID: uid, OrganizationID: org.ID})
		mustZ(t, "CreateOrganizationMembership (second)", err)
		if m2.Default {
			t.Errorf("second membership is default: %+v", m2)
		}
		// Non-default memberships have "default": null, never false.
		s, raw := e.DoRaw("GET", fmt.Sprintf("/organization_memberships/%d", m2.ID), e.AdminToken, nil)
		if s != http.StatusOK || !strings.Contains(string(raw), `"default":null`) {
			t.Errorf("non-default membership = %d %s, want \"default\":null", s, raw)
		}

		def, err := z.SetDefaultOrganization(ctx, zendesk.OrganizationMembershipOptions{UserID: uid, OrganizationID: org.ID})
		mustZ(t, "SetDefaultOrganization", err)
		if !def.Default || def.OrganizationID != org.ID {
			t.Errorf("SetDefaultOrganization = %+v", def)
		}
		u, err := z.GetUser(ctx, uid)
		mustZ(t, "GetUser", err)
		if u.OrganizationID != org.ID {
			t.Errorf("user.organization_id = %d, want %d", u.OrganizationID, org.ID)
		}
		ms, _, err := z.GetOrganizationMemberships(ctx, &zendesk.OrganizationMembershipListOptions{UserID: uid})
		mustZ(t, "GetOrganizationMemberships", err)
		if len(ms) != 2 || ms[0].OrganizationID != org.ID || !ms[0].Default || ms[1].Default {
			t.Errorf("memberships = %+v, want the default (Acme) first", ms)
		}
		users, _, err := z.GetOrganizationUsers(ctx, org.ID, nil)
		mustZ(t, "GetOrganizationUsers", err)
		if len(users) != 1 || users[0].ID != uid {
			t.Errorf("GetOrganizationUsers = %+v", users)
		}
		mustZ(t, "DeleteOrganization", z.DeleteOrganization(ctx, org2.ID))
	})
}

func TestCompatSearch(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := zclient(t, e, agentEmail, e.AgentToken)
		uid := mkUser(t, e, map[string]any{"name": "Zed Quokka", "email": "zed@quokka.example"})
		e.Must(http.StatusCreated, "POST", "/organizations", map[string]any{"organization": map[string]any{"name": "Quokka Inc"}})
		e.Must(http.StatusCreated, "POST", "/groups", map[string]any{"group": map[string]any{"name": "Quokka Care"}})
		e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": "Quokka jumped", "requester_id": uid,
			"comment": map[string]any{"body": "It jumped."}}})

		res, page, err := z.Search(ctx, &zendesk.SearchOptions{Query: "quokka"})
		mustZ(t, "Search (all kinds)", err)
		kinds := map[string]int{}
		for _, r := range res.List() {
			switch r.(type) {
			case zendesk.User:
				kinds["user"]++
			case zendesk.Ticket:
				kinds["ticket"]++
			case zendesk.Organization:
				kinds["organization"]++
			case zendesk.Group:
				kinds["group"]++
			}
		}
		if want := map[string]int{"user": 1, "ticket": 1, "organization": 1, "group": 1}; fmt.Sprint(kinds) != fmt.Sprint(want) || page.Count != 4 {
			t.Errorf("Search kinds = %v, count %d, want %v", kinds, page.Count, want)
		}
		res, _, err = z.Search(ctx, &zendesk.SearchOptions{Query: "type:user quokka"})
		mustZ(t, "Search type:user", err)
		if l := res.List(); len(l) != 1 || l[0].(zendesk.User).ID != uid {
			t.Errorf("type:user = %v", l)
		}
		n, err := z.SearchCount(ctx, &zendesk.CountOptions{Query: "type:ticket quokka"})
		mustZ(t, "SearchCount", err)
		if n != 1 {
			t.Errorf("SearchCount = %d, want 1", n)
		}
		// Offset paging of search results, following next_page verbatim.
		for i := range 3 {
			mkUser(t, e, map[string]any{"name": fmt.Sprintf("Quokka Fan %d", i)})
		}
		s, m := e.Do("GET", "/search.json?query=type:user+quokka&per_page=2", e.AgentToken, nil)
		if s != http.StatusOK || num(m, "count") != 4 || len(m["results"].([]any)) != 2 {
			t.Fatalf("search page 1 = %d %v", s, m)
		}
		next, _ := m["next_page"].(string)
		if !strings.HasPrefix(next, e.URL+"/search.json?") {
			t.Fatalf("next_page = %q, want an absolute URL on the server", next)
		}
		s, m = e.Do("GET", strings.TrimPrefix(next, e.URL), e.AgentToken, nil)
		if s != http.StatusOK || len(m["results"].([]any)) != 2 || m["next_page"] != nil {
			t.Errorf("search page 2 = %d %v", s, m)
		}
		if s, _ := e.Do("GET", "/search?query=quokka", e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end-user search = %d, want 403", s)
		}
	})
}

// TestCompatPaging runs the client's cursor (CBP) and offset (OBP) iterators with
// a page size of 2 and checks every page.
func TestCompatPaging(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		z := zclient(t, e, adminEmail, e.AdminToken)
		for i := range 6 {
			mkUser(t, e, map[string]any{"name": fmt.Sprintf("Pager %d", i), "email": fmt.Sprintf("pager%d@example.com", i)})
		}
		const total = 9 // 3 harness users + 6

		for _, cbp := range []bool{true, false} {
			name := map[bool]string{true: "CBP", false: "OBP"}[cbp]
			t.Run("Users"+name, func(t *testing.T) {
				it := z.GetUsersIterator(ctx, &zendesk.PaginationOptions{PageSize: 2, IsCBP: cbp})
				var ids []int64
				pages := 0
				for it.HasMore() {
					page, err := it.GetNext()
					mustZ(t, fmt.Sprintf("page %d", pages+1), err)
					pages++
					if len(page) == 0 || len(page) > 2 {
						t.Errorf("page %d has %d users", pages, len(page))
					}
					for _, u := range page {
						ids = append(ids, u.ID)
					}
					if pages > 20 {
						t.Fatal("iterator does not stop")
					}
				}
				if len(ids) != total || pages != (total+1)/2 || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != total {
					t.Errorf("%d pages, ids %v; want %d distinct ascending ids in %d pages", pages, ids, total, (total+1)/2)
				}
			})
		}

		// Raw cursor paging: links are absolute, keep other parameters, end exactly.
		t.Run("CursorLinks", func(t *testing.T) {
			path := "/users.json?page[size]=4&role=end-user&query="
			var seen []int64
			for n := 0; path != ""; n++ {
				s, m := e.Do("GET", path, e.AdminToken, nil)
				if s != http.StatusOK {
					t.Fatalf("GET %s = %d %v", path, s, m)
				}
				if _, ok := m["count"]; ok {
					t.Errorf("cursor page has count: %v", m)
				}
				meta, links := obj(t, m, "meta"), obj(t, m, "links")
				seen = append(seen, idsOf(m["users"].([]any))...)
				if n == 0 && links["prev"] != nil {
					t.Errorf("first page links.prev = %v", links["prev"])
				}
				next, _ := links["next"].(string)
				if (meta["has_more"] == true) != (next != "") {
					t.Errorf("has_more %v but links.next %q", meta["has_more"], next)
				}
				if next != "" {
					u, err := url.Parse(next)
					if err != nil || !strings.HasPrefix(next, e.URL+"/users.json?") || u.Query().Get("role") != "end-user" || u.Query().Get("page[size]") != "4" {
						t.Errorf("links.next = %q", next)
					}
				}
				path = strings.TrimPrefix(next, e.URL)
				if n > 10 {
					t.Fatal("no end")
				}
			}
			if len(seen) != 7 { // Eve + 6 pagers
				t.Errorf("end users seen = %v, want 7", seen)
			}
		})

		t.Run("OffsetLinks", func(t *testing.T) {
			s, m := e.Do("GET", "/users?per_page=3&page=2&role=end-user", e.AdminToken, nil)
			if s != http.StatusOK || num(m, "count") != 7 {
				t.Fatalf("page 2 = %d %v", s, m)
			}
			for _, k := range []string{"next_page", "previous_page"} {
				v, _ := m[k].(string)
				u, err := url.Parse(v)
				if err != nil || !strings.HasPrefix(v, e.URL+"/users.json?") || u.Query().Get("role") != "end-user" || u.Query().Get("per_page") != "3" {
					t.Errorf("%s = %q", k, v)
				}
			}
			if s, m := e.Do("GET", "/users?per_page=3&page=2&role=end-user", e.AdminToken, nil); s == http.StatusOK {
				if n, _ := m["next_page"].(string); !strings.Contains(n, "page=3") {
					t.Errorf("next_page = %q, want page=3", n)
				}
			}
			s, m = e.Do("GET", "/users?per_page=500", e.AdminToken, nil)
			if s != http.StatusOK || m["next_page"] != nil || len(m["users"].([]any)) != total {
				t.Errorf("per_page=500 (clamped to 100) = %d, next %v", s, m["next_page"])
			}
		})

		t.Run("Tickets", func(t *testing.T) {
			for i := range 5 {
				s, m := e.Do("POST", "/tickets", e.AdminToken, map[string]any{"ticket": map[string]any{"subject": fmt.Sprintf("T%d", i),
					"requester_id": e.EndUser.ID, "comment": map[string]any{"body": "b"}}})
				if s != http.StatusCreated {
					t.Fatalf("POST /tickets = %d %v", s, m)
				}
			}
			for _, cbp := range []bool{true, false} {
				it := z.GetTicketsIterator(ctx, &zendesk.PaginationOptions{PageSize: 2, IsCBP: cbp})
				var ids []int64
				pages := 0
				for it.HasMore() && pages < 20 {
					page, err := it.GetNext()
					mustZ(t, "GetTicketsIterator", err)
					pages++
					if len(page) == 0 || len(page) > 2 {
						t.Errorf("cbp=%v page %d has %d tickets", cbp, pages, len(page))
					}
					for _, tk := range page {
						ids = append(ids, tk.ID)
					}
				}
				if len(ids) != 5 || pages != 3 || !slices.IsSorted(ids) {
					t.Errorf("cbp=%v: %d pages, ids %v", cbp, pages, ids)
				}
			}
		})
	})
}
