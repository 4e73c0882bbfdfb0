package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// mkSuggestion creates two end users named name and returns the id of the
// suggestion the live detector stores for them (within 2 s, rule D8).
func mkSuggestion(t *testing.T, e *env, name string) int64 {
	t.Helper()
	a := mkUser(t, e, map[string]any{"name": name, "email": fmt.Sprintf("a.%d@twins.test", time.Now().UnixNano())})
	mkUser(t, e, map[string]any{"name": name, "email": fmt.Sprintf("b.%d@twins.test", time.Now().UnixNano())})
	deadline := time.Now().Add(2 * time.Second)
	for {
		m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/duplicate_suggestions?user_id=%d", a), nil)
		if l, _ := m["duplicate_suggestions"].([]any); len(l) > 0 {
			return id(t, l[0].(map[string]any))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no suggestion for the two %s within 2 s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDuplicatesAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		sid := mkSuggestion(t, e, "Maria Souza")
		other := mkUser(t, e, map[string]any{"name": "Kwame Mensah"})
		sg := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/duplicate_suggestions/%d.json", sid), nil), "duplicate_suggestion")
		for _, k := range []string{"id", "url", "user_ids", "score", "reasons", "group_id", "status", "suggested_target_id", "merge",
			"dismissed_by_id", "dismissed_at", "created_at", "updated_at"} {
			if _, ok := sg[k]; !ok {
				t.Errorf("suggestion lacks %q: %v", k, sg)
			}
		}
		ids := sg["user_ids"].([]any)
		a, b := int64(ids[0].(float64)), int64(ids[1].(float64))
		if a >= b || sg["status"] != "open" || obj(t, sg, "merge")["eligible"] != true || len(sg["reasons"].([]any)) == 0 {
			t.Errorf("suggestion = %v", sg)
		}

		// Live, for one user.
		m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/duplicates", a), nil)
		dl := m["duplicates"].([]any)
		if len(dl) != 1 {
			t.Fatalf("duplicates of %d = %v", a, m)
		}
		d0 := dl[0].(map[string]any)
		if id(t, obj(t, d0, "user")) != b || d0["suggestion_id"] != float64(sid) || d0["status"] != "open" || d0["merge"] == nil {
			t.Errorf("duplicate = %v", d0)
		}
		if m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/duplicates", other), nil); len(m["duplicates"].([]any)) != 0 {
			t.Errorf("a different person has duplicates: %v", m)
		}

		// Dismiss (D7), then the pair is left out unless asked for.
		dis := obj(t, e.Must(http.StatusOK, "PUT", fmt.Sprintf("/duplicate_suggestions/%d/dismiss", sid), nil), "duplicate_suggestion")
		if dis["status"] != "dismissed" || dis["dismissed_by_id"] != float64(e.Admin.ID) || dis["dismissed_at"] == nil {
			t.Errorf("dismissed = %v", dis)
		}
		if m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/duplicates", a), nil); len(m["duplicates"].([]any)) != 0 {
			t.Errorf("dismissed pair shown: %v", m)
		}
		if m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/duplicates?include_dismissed=true", a), nil); len(m["duplicates"].([]any)) != 1 {
			t.Errorf("include_dismissed: %v", m)
		}
		if m := e.Must(http.StatusOK, "GET", "/duplicate_suggestions?status=dismissed", nil); len(m["duplicate_suggestions"].([]any)) != 1 {
			t.Errorf("status=dismissed: %v", m)
		}
		s, _ := e.Do("PUT", fmt.Sprintf("/duplicate_suggestions/%d/restore", sid), e.AgentToken, nil)
		if s != http.StatusOK {
			t.Errorf("agent restore = %d", s)
		}

		// Both pagination styles, best first.
		mkSuggestion(t, e, "Li Wei")
		m = e.Must(http.StatusOK, "GET", "/duplicate_suggestions?per_page=1", nil)
		if len(m["duplicate_suggestions"].([]any)) != 1 || m["count"] != 2.0 || m["next_page"] == nil {
			t.Errorf("offset page = %v", m)
		}
		m = e.Must(http.StatusOK, "GET", "/duplicate_suggestions?page[size]=1", nil)
		meta := obj(t, m, "meta")
		if len(m["duplicate_suggestions"].([]any)) != 1 || meta["has_more"] != true {
			t.Errorf("cursor page = %v", m)
		}
		m = e.Must(http.StatusOK, "GET", "/duplicate_suggestions?page[size]=1&page[after]="+fmt.Sprint(meta["after_cursor"]), nil)
		if len(m["duplicate_suggestions"].([]any)) != 1 || obj(t, m, "meta")["has_more"] != false {
			t.Errorf("cursor page 2 = %v", m)
		}

		// Scan: a job status, the same one while it runs.
		js := obj(t, e.Must(http.StatusOK, "POST", "/duplicate_scans", nil), "job_status")
		if js["job_type"] != "duplicate_scan" {
			t.Errorf("scan job = %v", js)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			js = obj(t, e.Must(http.StatusOK, "GET", "/job_statuses/"+js["id"].(string), nil), "job_status")
			if js["status"] == "completed" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		res, _ := js["results"].([]any)
		if js["status"] != "completed" || len(res) != 1 || res[0].(map[string]any)["suggestions"] != 2.0 || js["progress"] != js["total"] {
			t.Errorf("scan = %v", js)
		}

		// D11: end users get 403; settings are the admins'.
		for _, p := range []string{fmt.Sprintf("/users/%d/duplicates", e.EndUser.ID), "/duplicate_suggestions"} {
			if s, _ := e.Do("GET", p, e.EndUserToken, nil); s != http.StatusForbidden {
				t.Errorf("end user GET %s = %d", p, s)
			}
		}
		if s, _ := e.Do("PUT", "/account/settings", e.AgentToken, map[string]any{"settings": map[string]any{"duplicates": map[string]any{"min_score": 0.5}}}); s != http.StatusForbidden {
			t.Errorf("agent changing duplicates settings = %d", s)
		}
		st := obj(t, obj(t, e.Must(http.StatusOK, "PUT", "/account/settings", map[string]any{"settings": map[string]any{"duplicates": map[string]any{
			"min_score": 0.95, "user_fields": []string{"dob"}}}}), "settings"), "duplicates")
		if st["min_score"] != 0.95 || st["enabled"] != true {
			t.Errorf("settings = %v", st)
		}
	})
}
