package api_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The golden files under testdata/golden pin the documented key sets and value
// types of docs/api.md's response shapes. They started as the spec's own examples,
// normalised; -update rewrites them from the server once its answers are right.
var update = flag.Bool("update", false, "rewrite testdata/golden from the server's responses")

var (
	timeRE    = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?( ?(Z|[+-]\d{2}:?\d{2}))?`)
	hostRE    = regexp.MustCompile(`^https?://[^/]+`)
	numSegRE  = regexp.MustCompile(`/(\d+|[0-9a-fA-F]{32}|[0-9A-Z]{26})(\.json|/|$)`)
	digitsRE  = regexp.MustCompile(`^\d+$`)
	idFieldRE = regexp.MustCompile(`(^id$|_id$)`)
)

// normalize replaces volatile values: ids (numbers, or strings for job and
// webhook ids) with "<id>", timestamps with "<time>", the scheme and host of URLs
// with "http://HOST" and ids inside URLs with "<id>". Everything else stays, so
// key sets, value types and documented constants are compared.
func normalize(v any) any { return norm("", v, nil) }

func norm(key string, v any, parent map[string]any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = norm(k, val, x)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = norm(key, val, parent)
		}
		return out
	case float64:
		if key == "locale_id" {
			return x // a documented constant, not a record id
		}
		if idFieldRE.MatchString(key) || strings.HasSuffix(key, "_ids") || key == "recipients" {
			return "<id>"
		}
		return x
	case string:
		switch {
		case key == "html_body":
			return "<html>" // its markup is not specified
		case key == "id" || key == "after_cursor" || key == "before_cursor" || key == "token" || key == "version":
			return "<" + key + ">"
		case hostRE.MatchString(x):
			s := hostRE.ReplaceAllString(x, "http://HOST")
			s = numSegRE.ReplaceAllString(s, "/<id>$2")
			return numSegRE.ReplaceAllString(s, "/<id>$2")
		case timeRE.MatchString(x):
			return timeRE.ReplaceAllString(x, "<time>")
		case digitsRE.MatchString(x) && (strings.HasSuffix(key, "_ccs") || strings.HasSuffix(key, "_followers") || strings.HasSuffix(key, "_by") ||
			((key == "value" || key == "previous_value") && parent != nil && strings.HasSuffix(fmt.Sprint(parent["field_name"]), "_id"))):
			return "<id>" // id strings in audit events
		}
		return x
	}
	return v
}

// sortEvents orders audit events by type and field so the golden file does not
// pin an order the spec leaves open.
func sortEvents(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if k == "events" {
				if l, ok := val.([]any); ok {
					sort.SliceStable(l, func(i, j int) bool {
						a, b := l[i].(map[string]any), l[j].(map[string]any)
						return fmt.Sprint(a["type"], a["field_name"]) < fmt.Sprint(b["type"], b["field_name"])
					})
				}
			}
			sortEvents(val)
		}
	case []any:
		for _, val := range x {
			sortEvents(val)
		}
	}
}

// golden compares a response body with testdata/golden/name.json.
func golden(t *testing.T, name string, raw []byte) {
	t.Helper()
	var got any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: response is not JSON: %v\n%s", name, err, raw)
	}
	got = normalize(got)
	sortEvents(got)
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(got)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sortEvents(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// fetch sends a request as admin (or with token) and fails unless the status is want.
func fetch(t *testing.T, e *env, token string, want int, method, path string, body any) []byte {
	t.Helper()
	status, raw := e.DoRaw(method, path, token, body)
	if status != want {
		t.Fatalf("%s %s = %d, want %d: %.500s", method, path, status, want, raw)
	}
	return raw
}

func idIn(t *testing.T, raw []byte, key string) int64 {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return num(obj(t, m, key), "id")
}

// TestGolden builds the scenario of docs/api.md's examples (group Billing, organization
// Acme, user Ann Lee with a CC Bo, ticket "Refund") and pins each shape.
func TestGolden(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		a := e.AdminToken
		t.Run("Errors", func(t *testing.T) {
			golden(t, "error_401", fetch(t, e, "", 401, "GET", "/users", nil))
			golden(t, "error_403", fetch(t, e, e.EndUserToken, 403, "GET", "/users", nil))
			golden(t, "error_404", fetch(t, e, a, 404, "GET", "/users/987654321", nil))
			golden(t, "error_404_endpoint", fetch(t, e, a, 404, "GET", "/no_such_thing", nil))
			mkUser(t, e, map[string]any{"name": "Ann Lee", "email": "ann@example.com"})
			golden(t, "error_422_duplicate", fetch(t, e, a, 422, "POST", "/users", map[string]any{"user": map[string]any{"name": "Other", "email": "ann@example.com"}}))
		})
	})

	eachDB(t, func(t *testing.T, e *env) {
		a := e.AdminToken
		t.Run("User", func(t *testing.T) {
			ann := idIn(t, fetch(t, e, a, 201, "POST", "/users", map[string]any{"user": map[string]any{"name": "Ann Lee", "email": "ann@example.com",
				"phone": "+14155550101", "tags": []string{"vip"}, "verified": true}}), "user")
			golden(t, "user", fetch(t, e, a, 200, "GET", fmt.Sprintf("/users/%d", ann), nil))
			golden(t, "user_end_user_view", fetch(t, e, e.EndUserToken, 200, "GET", "/users/me", nil))
			var list map[string]any
			json.Unmarshal(fetch(t, e, a, 200, "GET", fmt.Sprintf("/users/%d/identities?type[]=email", ann), nil), &list)
			iid := idsOf(list["identities"].([]any))[0]
			golden(t, "identity", fetch(t, e, a, 200, "GET", fmt.Sprintf("/users/%d/identities/%d", ann, iid), nil))
			golden(t, "users_cursor_page", fetch(t, e, a, 200, "GET", "/users?page[size]=1&role=admin", nil))
		})
		t.Run("JobStatus", func(t *testing.T) {
			mkUser(t, e, map[string]any{"name": "Bo", "email": "bo@example.com"})
			var m map[string]any
			json.Unmarshal(fetch(t, e, a, 200, "POST", "/users/create_many", map[string]any{"users": []any{
				map[string]any{"name": "Cy", "email": "cy@example.com"},
				map[string]any{"name": "Bo", "email": "bo@example.com"}}}), &m)
			js := pollJob(t, e, obj(t, m, "job_status")["id"].(string))
			golden(t, "job_status", fetch(t, e, a, 200, "GET", "/job_statuses/"+js["id"].(string), nil))
		})
	})

	eachDB(t, func(t *testing.T, e *env) {
		a := e.AdminToken
		t.Run("Organization", func(t *testing.T) {
			grp := idIn(t, fetch(t, e, a, 201, "POST", "/groups", map[string]any{"group": map[string]any{"name": "Billing"}}), "group")
			golden(t, "group", fetch(t, e, a, 200, "GET", fmt.Sprintf("/groups/%d", grp), nil))
			org := idIn(t, fetch(t, e, a, 201, "POST", "/organizations", map[string]any{"organization": map[string]any{"name": "Acme",
				"domain_names": []string{"acme.com"}, "group_id": grp}}), "organization")
			golden(t, "organization", fetch(t, e, a, 200, "GET", fmt.Sprintf("/organizations/%d", org), nil))
			ann := idIn(t, fetch(t, e, a, 201, "POST", "/users", map[string]any{"user": map[string]any{"name": "Ann Lee", "email": "ann@example.com",
				"organization_id": org}}), "user")
			var list map[string]any
			json.Unmarshal(fetch(t, e, a, 200, "GET", fmt.Sprintf("/users/%d/organization_memberships", ann), nil), &list)
			ms := idsOf(list["organization_memberships"].([]any))
			if len(ms) != 1 {
				t.Fatalf("memberships = %v", list)
			}
			golden(t, "organization_membership", fetch(t, e, a, 200, "GET", fmt.Sprintf("/organization_memberships/%d", ms[0]), nil))

			bo := mkUser(t, e, map[string]any{"name": "Bo Rang", "email": "bo@example.com"})
			raw := fetch(t, e, a, 201, "POST", "/tickets", map[string]any{"ticket": map[string]any{"subject": "Refund", "priority": "normal",
				"requester_id": ann, "submitter_id": ann, "collaborators": []any{bo}, "tags": []string{"billing"},
				"custom_fields": []any{map[string]any{"id": 900, "value": "gold"}}, "comment": map[string]any{"body": "I was charged twice."}}})
			tk := idIn(t, raw, "ticket")
			golden(t, "ticket_create", raw)
			golden(t, "ticket", fetch(t, e, a, 200, "GET", fmt.Sprintf("/tickets/%d", tk), nil))
			golden(t, "search", fetch(t, e, a, 200, "GET", "/search?query=type:organization+acme", nil))
		})
	})
}
