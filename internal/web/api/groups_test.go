package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func TestGroups(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		g := obj(t, e.Must(http.StatusCreated, "POST", "/groups.json", map[string]any{"group": map[string]any{"name": "Billing"}}), "group")
		gid := id(t, g)
		wantKeys := []string{"created_at", "default", "deleted", "description", "id", "name", "updated_at", "url"}
		if got := keys(g); !slices.Equal(got, wantKeys) {
			t.Errorf("keys = %v, want %v", got, wantKeys)
		}
		if g["url"] != fmt.Sprintf("%s/groups/%d.json", e.URL, gid) || g["default"] != false || g["deleted"] != false || g["description"] != nil {
			t.Errorf("group = %v", g)
		}
		other := id(t, obj(t, e.Must(http.StatusCreated, "POST", "/groups", map[string]any{"group": map[string]any{"name": "Sales", "default": true}}), "group"))

		// Agents read groups; only admins write them.
		list := e.mustStatus(http.StatusOK, e.AgentToken, "GET", "/groups", nil)
		if n := len(list["groups"].([]any)); n != 2 || list["count"] != float64(2) {
			t.Errorf("list = %v", list)
		}
		e.mustStatus(http.StatusOK, e.AgentToken, "GET", fmt.Sprintf("/groups/%d", gid), nil)
		for _, tt := range []struct{ method, path string }{
			{"POST", "/groups"}, {"PUT", fmt.Sprintf("/groups/%d", gid)}, {"DELETE", fmt.Sprintf("/groups/%d", gid)},
		} {
			if s, _ := e.Do(tt.method, tt.path, e.AgentToken, map[string]any{"group": map[string]any{"name": "X"}}); s != http.StatusForbidden {
				t.Errorf("agent %s %s = %d, want 403", tt.method, tt.path, s)
			}
		}
		if s, _ := e.Do("GET", "/groups", e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user reading groups = %d, want 403", s)
		}

		for _, tt := range []struct {
			name, method, path string
			body               any
			status             int
			code               string
		}{
			{"Duplicate", "POST", "/groups", map[string]any{"group": map[string]any{"name": "billing"}}, 422, "DuplicateValue"},
			{"Blank", "POST", "/groups", map[string]any{"group": map[string]any{"description": "x"}}, 422, "BlankValue"},
			{"RenameToTaken", "PUT", fmt.Sprintf("/groups/%d", other), map[string]any{"group": map[string]any{"name": "BILLING"}}, 422, "DuplicateValue"},
			{"UnknownShow", "GET", "/groups/424242", nil, 404, ""},
			{"UnknownUpdate", "PUT", "/groups/424242", map[string]any{"group": map[string]any{"name": "Y"}}, 404, ""},
			{"UnknownDelete", "DELETE", "/groups/424242", nil, 404, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				s, m := e.Do(tt.method, tt.path, e.AdminToken, tt.body)
				if s != tt.status || (tt.code != "" && fieldCode(m, "name") != tt.code) {
					t.Errorf("%s %s = %d %v, want %d %s", tt.method, tt.path, s, m, tt.status, tt.code)
				}
			})
		}

		// Making one group the default takes it from the other.
		u := obj(t, e.Must(http.StatusOK, "PUT", fmt.Sprintf("/groups/%d", gid), map[string]any{"group": map[string]any{
			"name": "", "description": "Invoices", "default": true}}), "group")
		if u["name"] != "Billing" || u["description"] != "Invoices" || u["default"] != true {
			t.Errorf("updated = %v", u)
		}
		if o := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/groups/%d", other), nil), "group"); o["default"] != false {
			t.Errorf("previous default = %v", o)
		}

		// Deleting is soft: the group leaves lists and organizations stop routing to it.
		org := e.createOrg("Acme", map[string]any{"group_id": gid})
		e.Must(http.StatusNoContent, "DELETE", fmt.Sprintf("/groups/%d.json", gid), nil)
		if d := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/groups/%d", gid), nil), "group"); d["deleted"] != true {
			t.Errorf("deleted group = %v", d)
		}
		if n := len(e.Must(http.StatusOK, "GET", "/groups", nil)["groups"].([]any)); n != 1 {
			t.Errorf("list has %d groups after a delete, want 1", n)
		}
		if o := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/organizations/%d", org), nil), "organization"); o["group_id"] != nil {
			t.Errorf("organization group_id = %v, want null", o["group_id"])
		}
		e.Must(http.StatusNotFound, "DELETE", fmt.Sprintf("/groups/%d", gid), nil)
		e.Must(http.StatusNotFound, "PUT", fmt.Sprintf("/groups/%d", gid), map[string]any{"group": map[string]any{"name": "Z"}})
		e.Must(http.StatusCreated, "POST", "/groups", map[string]any{"group": map[string]any{"name": "Billing"}})
	})
}
