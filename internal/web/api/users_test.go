package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestUserCreateShowAndJSONSuffix(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		u := obj(t, e.Must(http.StatusCreated, "POST", "/users.json", map[string]any{"user": map[string]any{
			"name": "Ann Lee", "email": "Ann@Example.com", "phone": "(415) 555-0100", "tags": []string{"VIP"}}}), "user")
		uid := id(t, u)
		if u["phone"] != "+14155550100" || u["email"] != "Ann@Example.com" {
			t.Errorf("phone, email = %v, %v", u["phone"], u["email"])
		}
		for _, p := range []string{fmt.Sprintf("/users/%d", uid), fmt.Sprintf("/users/%d.json", uid)} {
			got := obj(t, e.Must(http.StatusOK, "GET", p, nil), "user")
			if got["name"] != "Ann Lee" {
				t.Errorf("GET %s name = %v", p, got["name"])
			}
		}
		status, m := e.Do("POST", "/users", e.AdminToken, map[string]any{"user": map[string]any{"name": "Dup", "phone": "4155550100"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(m["details"]), "DuplicateValue") {
			t.Errorf("duplicate phone = %d %v", status, m)
		}
	})
}

func TestEndUserSeesOnlyThemselves(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		if s, _ := e.Do("GET", fmt.Sprintf("/users/%d", e.Agent.ID), e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user reading another user = %d, want 403", s)
		}
		s, m := e.Do("GET", "/users/me", e.EndUserToken, nil)
		if s != http.StatusOK {
			t.Fatalf("me = %d", s)
		}
		if _, ok := obj(t, m, "user")["notes"]; ok {
			t.Errorf("end-user view has notes: %v", m)
		}
		if s, _ := e.Do("GET", "/users", e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user listing = %d, want 403", s)
		}
		if s, _ := e.Do("GET", "/users", "", nil); s != http.StatusUnauthorized {
			t.Errorf("anonymous = %d, want 401", s)
		}
	})
}

func TestCreateManyUsersJob(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		js := obj(t, e.Must(http.StatusOK, "POST", "/users/create_many", map[string]any{"users": []any{
			map[string]any{"name": "A", "email": "a@example.com"},
			map[string]any{"name": "B", "email": "A@example.com"},
		}}), "job_status")
		jid := js["id"].(string)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			js = obj(t, e.Must(http.StatusOK, "GET", "/job_statuses/"+jid, nil), "job_status")
			if js["status"] == "completed" {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		res, _ := js["results"].([]any)
		if js["status"] != "completed" || len(res) != 2 {
			t.Fatalf("job = %v", js)
		}
		if r0 := res[0].(map[string]any); r0["status"] != "Created" || r0["success"] != true {
			t.Errorf("result 0 = %v", r0)
		}
		if r1 := res[1].(map[string]any); r1["success"] != false || r1["error"] != "DuplicateValue" {
			t.Errorf("result 1 = %v", r1)
		}
		many := make([]any, 101)
		for i := range many {
			many[i] = map[string]any{"name": "x"}
		}
		if s, m := e.Do("POST", "/users/create_many", e.AdminToken, map[string]any{"users": many}); s != 400 || m["error"] != "TooManyValues" {
			t.Errorf("101 users = %d %v", s, m)
		}
	})
}
