package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
)

// fieldCode returns details[field][0].error of a RecordInvalid body, or "".
func fieldCode(m map[string]any, field string) string {
	d, _ := m["details"].(map[string]any)
	list, _ := d[field].([]any)
	if len(list) == 0 {
		return ""
	}
	e, _ := list[0].(map[string]any)
	s, _ := e["error"].(string)
	return s
}

// mustStatus fails unless a request with token answers want; it returns the body.
func (e *env) mustStatus(want int, token, method, path string, body any) map[string]any {
	e.t.Helper()
	status, m := e.Do(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s = %d, want %d: %v", method, path, status, want, m)
	}
	return m
}

func (e *env) createOrg(name string, extra map[string]any) int64 {
	e.t.Helper()
	body := map[string]any{"name": name}
	for k, v := range extra {
		body[k] = v
	}
	return id(e.t, obj(e.t, e.Must(http.StatusCreated, "POST", "/organizations", map[string]any{"organization": body}), "organization"))
}

func (e *env) createEndUser(name string, extra map[string]any) int64 {
	e.t.Helper()
	body := map[string]any{"name": name}
	for k, v := range extra {
		body[k] = v
	}
	return id(e.t, obj(e.t, e.Must(http.StatusCreated, "POST", "/users", map[string]any{"user": body}), "user"))
}

func (e *env) allowMultipleOrgs() {
	e.t.Helper()
	e.Must(http.StatusOK, "PUT", "/account/settings", map[string]any{"settings": map[string]any{"users": map[string]any{"multiple_organizations": true}}})
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestOrganizationCreateShowUpdate(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		status, raw := e.DoRaw("POST", "/organizations.json", e.AgentToken, map[string]any{"organization": map[string]any{
			"name": "Acme", "external_id": "crm-1", "domain_names": []string{"Acme.com"}, "group_id": 0, "tags": []string{"VIP"},
			"organization_fields": map[string]any{"tier": 3, "gold": true, "note": "x"}, "details": "d", "id": 999, "url": "junk"}})
		if status != http.StatusCreated {
			t.Fatalf("create = %d %s", status, raw)
		}
		c := e.Must(http.StatusOK, "GET", "/organizations?external_id=ignored", nil)
		o := c["organizations"].([]any)[0].(map[string]any)
		oid := id(t, o)
		wantKeys := []string{"created_at", "details", "domain_names", "external_id", "group_id", "id", "name", "notes",
			"organization_fields", "shared_comments", "shared_tickets", "tags", "updated_at", "url"}
		if got := keys(o); !slices.Equal(got, wantKeys) {
			t.Errorf("keys = %v, want %v", got, wantKeys)
		}
		if o["url"] != fmt.Sprintf("%s/organizations/%d.json", e.URL, oid) || o["group_id"] != nil || o["notes"] != nil {
			t.Errorf("organization = %v", o)
		}
		if f := o["organization_fields"].(map[string]any); f["tier"] != "3" || f["gold"] != true {
			t.Errorf("organization_fields = %v, want numbers as strings", f)
		}
		if fmt.Sprint(o["domain_names"], o["tags"]) != "[acme.com] [vip]" {
			t.Errorf("domain_names, tags = %v, %v", o["domain_names"], o["tags"])
		}

		// "name":"" and null lists mean no change; organization_fields merge.
		u := obj(t, e.Must(http.StatusOK, "PUT", fmt.Sprintf("/organizations/%d.json", oid), map[string]any{"organization": map[string]any{
			"name": "", "tags": nil, "domain_names": nil, "notes": "n", "shared_tickets": true,
			"organization_fields": map[string]any{"tier": nil, "region": "emea"}}}), "organization")
		if u["name"] != "Acme" || fmt.Sprint(u["tags"]) != "[vip]" || u["notes"] != "n" || u["shared_tickets"] != true {
			t.Errorf("updated = %v", u)
		}
		if f := u["organization_fields"].(map[string]any); fmt.Sprint(f) != "map[gold:true note:x region:emea]" {
			t.Errorf("organization_fields = %v", f)
		}
		got := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/organizations/%d", oid), nil), "organization")
		if got["notes"] != "n" {
			t.Errorf("show = %v", got)
		}
	})
}

func TestOrganizationErrors(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		e.createOrg("Acme", map[string]any{"external_id": "crm-1"})
		beta := e.createOrg("Beta", nil)
		tests := []struct {
			name, method, path string
			body               any
			status             int
			field, code        string
		}{
			{"DuplicateName", "POST", "/organizations", map[string]any{"organization": map[string]any{"name": "ACME"}}, 422, "name", "DuplicateValue"},
			{"DuplicateExternalID", "POST", "/organizations", map[string]any{"organization": map[string]any{"name": "C", "external_id": "CRM-1"}}, 422, "external_id", "DuplicateValue"},
			{"BlankName", "POST", "/organizations", map[string]any{"organization": map[string]any{"name": " "}}, 422, "name", "BlankValue"},
			{"UnknownGroup", "POST", "/organizations", map[string]any{"organization": map[string]any{"name": "D", "group_id": 424242}}, 422, "group_id", "InvalidValue"},
			{"RenameToTaken", "PUT", fmt.Sprintf("/organizations/%d", beta), map[string]any{"organization": map[string]any{"name": "acme"}}, 422, "name", "DuplicateValue"},
			{"MissingWrapper", "POST", "/organizations", map[string]any{"name": "E"}, 400, "", ""},
			{"UnknownShow", "GET", "/organizations/424242", nil, 404, "", ""},
			{"UnknownUpdate", "PUT", "/organizations/424242", map[string]any{"organization": map[string]any{"notes": "x"}}, 404, "", ""},
			{"UnknownDelete", "DELETE", "/organizations/424242", nil, 404, "", ""},
			{"UnknownMemberships", "GET", "/organizations/424242/organization_memberships", nil, 404, "", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, m := e.Do(tt.method, tt.path, e.AdminToken, tt.body)
				if status != tt.status || (tt.field != "" && fieldCode(m, tt.field) != tt.code) {
					t.Errorf("%s %s = %d %v, want %d %s %s", tt.method, tt.path, status, m, tt.status, tt.field, tt.code)
				}
			})
		}
		if s, _ := e.Do("GET", "/organizations", e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user listing organizations = %d, want 403", s)
		}
	})
}

func TestOrganizationLookups(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		acme := e.createOrg("Acme", map[string]any{"external_id": "crm-1"})
		acorn := e.createOrg("Acorn", map[string]any{"external_id": "crm-2"})
		e.createOrg("Beta", nil)
		names := func(m map[string]any) string {
			var out []string
			for _, o := range m["organizations"].([]any) {
				out = append(out, o.(map[string]any)["name"].(string))
			}
			return strings.Join(out, ",")
		}
		for _, tt := range []struct{ path, want string }{
			{fmt.Sprintf("/organizations/show_many?ids=%d,%d,424242", acorn, acme), "Acme,Acorn"},
			{"/organizations/show_many.json?external_ids=CRM-2", "Acorn"},
			{"/organizations/search?external_id=crm-1", "Acme"},
			{"/organizations/search.json?name=acorn", "Acorn"},
			{"/organizations/search?name=Ac", ""},
			{"/organizations/autocomplete?name=ac", "Acme,Acorn"},
			{"/organizations?per_page=2&page=2", "Beta"},
		} {
			if got := names(e.Must(http.StatusOK, "GET", tt.path, nil)); got != tt.want {
				t.Errorf("GET %s = %q, want %q", tt.path, got, tt.want)
			}
		}
		page := e.Must(http.StatusOK, "GET", "/organizations?page[size]=2", nil)
		next, _ := page["links"].(map[string]any)["next"].(string)
		if names(page) != "Acme,Acorn" || !strings.HasPrefix(next, e.URL+"/organizations.json?") {
			t.Fatalf("cursor page 1 = %v", page)
		}
		page = e.Must(http.StatusOK, "GET", strings.TrimPrefix(next, e.URL), nil)
		if names(page) != "Beta" || page["meta"].(map[string]any)["has_more"] != false {
			t.Errorf("cursor page 2 = %v", page)
		}
		ids := make([]string, 101)
		for i := range ids {
			ids[i] = fmt.Sprint(i + 1)
		}
		if s, m := e.Do("GET", "/organizations/show_many?ids="+strings.Join(ids, ","), e.AdminToken, nil); s != 400 || m["error"] != "TooManyValues" {
			t.Errorf("101 ids = %d %v", s, m)
		}
	})
}

func TestDeleteOrganization(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		e.allowMultipleOrgs()
		acme, beta := e.createOrg("Acme", nil), e.createOrg("Beta", nil)
		ann := e.createEndUser("Ann", map[string]any{"organization_id": acme})
		e.Must(http.StatusCreated, "POST", "/organization_memberships", map[string]any{"organization_membership": map[string]any{"user_id": ann, "organization_id": beta}})
		bo := e.createEndUser("Bo", map[string]any{"organization_id": acme})

		if m := e.Must(http.StatusNoContent, "DELETE", fmt.Sprintf("/organizations/%d.json", acme), nil); m != nil {
			t.Errorf("204 with a body: %v", m)
		}
		e.Must(http.StatusNotFound, "GET", fmt.Sprintf("/organizations/%d", acme), nil)
		if got := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", ann), nil), "user")["organization_id"]; got != float64(beta) {
			t.Errorf("Ann's organization_id = %v, want %d (the remaining membership)", got, beta)
		}
		if got := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", bo), nil), "user")["organization_id"]; got != nil {
			t.Errorf("Bo's organization_id = %v, want null", got)
		}
		ms := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/organization_memberships", ann), nil)["organization_memberships"].([]any)
		if len(ms) != 1 || ms[0].(map[string]any)["default"] != true {
			t.Errorf("Ann's memberships = %v", ms)
		}
	})
}

func TestMemberships(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		zulu, alpha, mike := e.createOrg("Zulu", nil), e.createOrg("alpha", nil), e.createOrg("Mike", nil)
		ann := e.createEndUser("Ann", nil)
		create := func(token string, user, org int64, extra map[string]any) (int, map[string]any) {
			body := map[string]any{"user_id": user, "organization_id": org}
			for k, v := range extra {
				body[k] = v
			}
			return e.Do("POST", "/organization_memberships.json", token, map[string]any{"organization_membership": body})
		}

		// The first membership is the default, even with "default":false.
		s, m := create(e.AgentToken, ann, zulu, map[string]any{"default": false})
		if s != http.StatusCreated {
			t.Fatalf("first membership = %d %v", s, m)
		}
		first := obj(t, m, "organization_membership")
		wantKeys := []string{"created_at", "default", "id", "organization_id", "organization_name", "updated_at", "url", "user_id", "view_tickets"}
		if got := keys(first); !slices.Equal(got, wantKeys) {
			t.Errorf("keys = %v, want %v", got, wantKeys)
		}
		if first["default"] != true || first["organization_name"] != "Zulu" || first["url"] != fmt.Sprintf("%s/organization_memberships/%d.json", e.URL, id(t, first)) {
			t.Errorf("first membership = %v", first)
		}
		if s, m := create(e.AdminToken, ann, zulu, nil); s != 422 || fieldCode(m, "organization_id") != "DuplicateValue" {
			t.Errorf("already a member = %d %v", s, m)
		}
		if s, m := create(e.AdminToken, ann, alpha, nil); s != 422 || fieldCode(m, "organization_id") != "MultipleOrganizationsDisabled" {
			t.Errorf("second organization, setting off = %d %v", s, m)
		}
		if s, m := create(e.AdminToken, 424242, alpha, nil); s != 422 || fieldCode(m, "user_id") != "InvalidValue" {
			t.Errorf("unknown user = %d %v", s, m)
		}
		if s, m := create(e.AdminToken, ann, 424242, nil); s != 422 || fieldCode(m, "organization_id") != "InvalidValue" {
			t.Errorf("unknown organization = %d %v", s, m)
		}

		e.allowMultipleOrgs()
		_, m = create(e.AdminToken, ann, mike, nil)
		mikeM := obj(t, m, "organization_membership")
		if v, ok := mikeM["default"]; !ok || v != nil {
			t.Errorf("second membership default = %v (present %v), want null", v, ok)
		}
		create(e.AdminToken, ann, alpha, nil)

		order := func(path string) []string {
			var out []string
			for _, x := range e.Must(http.StatusOK, "GET", path, nil)["organization_memberships"].([]any) {
				mm := x.(map[string]any)
				out = append(out, fmt.Sprint(mm["organization_name"], "=", mm["default"]))
			}
			return out
		}
		userList := fmt.Sprintf("/users/%d/organization_memberships", ann)
		want := []string{"Zulu=true", "alpha=<nil>", "Mike=<nil>"}
		for _, p := range []string{userList, fmt.Sprintf("/organization_memberships?user_id=%d", ann)} {
			if got := order(p); !slices.Equal(got, want) {
				t.Errorf("GET %s = %v, want %v", p, got, want)
			}
		}
		if got := order(fmt.Sprintf("/organizations/%d/organization_memberships", mike)); !slices.Equal(got, []string{"Mike=<nil>"}) {
			t.Errorf("organization's memberships = %v", got)
		}
		if got := order(fmt.Sprintf("/organization_memberships?organization_id=%d", alpha)); !slices.Equal(got, []string{"alpha=<nil>"}) {
			t.Errorf("filtered by organization = %v", got)
		}

		// make_default, by organization (body null) and by membership (body empty).
		status, raw := e.DoRaw("PUT", fmt.Sprintf("/users/%d/organizations/%d/make_default.json", ann, mike), e.AgentToken, "null")
		if status != http.StatusOK || !strings.Contains(string(raw), `"organization_name":"Mike"`) || !strings.Contains(string(raw), `"default":true`) {
			t.Errorf("make_default by organization = %d %s", status, raw)
		}
		if got := order(userList); !slices.Equal(got, []string{"Mike=true", "alpha=<nil>", "Zulu=<nil>"}) {
			t.Errorf("after make_default = %v", got)
		}
		zuluID := id(t, first)
		list := e.Must(http.StatusOK, "PUT", fmt.Sprintf("/users/%d/organization_memberships/%d/make_default", ann, zuluID), nil)["organization_memberships"].([]any)
		if len(list) != 3 || id(t, list[0].(map[string]any)) != zuluID || list[0].(map[string]any)["default"] != true {
			t.Errorf("make_default by membership = %v", list)
		}
		if got := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", ann), nil), "user")["organization_id"]; got != float64(zulu) {
			t.Errorf("organization_id = %v, want %d", got, zulu)
		}
		e.Must(http.StatusNotFound, "PUT", fmt.Sprintf("/users/%d/organization_memberships/%d/make_default", e.Agent.ID, zuluID), nil)
		e.Must(http.StatusNotFound, "PUT", fmt.Sprintf("/users/%d/organizations/424242/make_default", ann), "{}")

		// Deleting the default promotes the first remaining one by name.
		e.Must(http.StatusNoContent, "DELETE", fmt.Sprintf("/organization_memberships/%d", zuluID), nil)
		if got := order(userList); !slices.Equal(got, []string{"alpha=true", "Mike=<nil>"}) {
			t.Errorf("after deleting the default = %v", got)
		}
		e.Must(http.StatusNoContent, "DELETE", fmt.Sprintf("/users/%d/organizations/%d.json", ann, alpha), nil)
		if got := order(userList); !slices.Equal(got, []string{"Mike=true"}) {
			t.Errorf("after leaving alpha = %v", got)
		}
		e.Must(http.StatusNotFound, "DELETE", fmt.Sprintf("/users/%d/organizations/%d", ann, alpha), nil)
		e.Must(http.StatusNotFound, "DELETE", fmt.Sprintf("/organization_memberships/%d", zuluID), nil)
		e.Must(http.StatusNotFound, "GET", fmt.Sprintf("/organization_memberships/%d", zuluID), nil)
		got := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/organization_memberships/%d", id(t, mikeM)), nil), "organization_membership")
		if got["default"] != true {
			t.Errorf("show = %v", got)
		}
		e.Must(http.StatusNotFound, "GET", "/users/424242/organization_memberships", nil)
		if s, _ := e.Do("GET", userList, e.EndUserToken, nil); s != http.StatusForbidden {
			t.Errorf("end user = %d, want 403", s)
		}
	})
}

func TestMembershipWriteRules(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		acme := e.createOrg("Acme", nil)
		gone := e.createEndUser("Gone", nil)
		e.Must(http.StatusOK, "DELETE", fmt.Sprintf("/users/%d", gone), nil)
		s, m := e.Do("POST", "/organization_memberships", e.AdminToken, map[string]any{"organization_membership": map[string]any{"user_id": gone, "organization_id": acme}})
		if s != 422 || fieldCode(m, "user_id") != "UserInactive" {
			t.Errorf("inactive user = %d %v", s, m)
		}
		if s, m := e.Do("PUT", fmt.Sprintf("/users/%d/organizations/%d/make_default", gone, acme), e.AdminToken, nil); s != 422 || fieldCode(m, "user") != "UserInactive" {
			t.Errorf("make_default of an inactive user = %d %v", s, m)
		}
		// Memberships change a user's organization_id: agents may not do that to admins.
		s, m = e.Do("POST", "/organization_memberships", e.AgentToken, map[string]any{"organization_membership": map[string]any{"user_id": e.Admin.ID, "organization_id": acme}})
		if s != http.StatusForbidden {
			t.Errorf("agent adding an admin = %d %v, want 403", s, m)
		}
		e.Must(http.StatusCreated, "POST", "/organization_memberships", map[string]any{"organization_membership": map[string]any{"user_id": e.Admin.ID, "organization_id": acme}})
		if s, _ := e.Do("DELETE", fmt.Sprintf("/users/%d/organizations/%d", e.Admin.ID, acme), e.AgentToken, nil); s != http.StatusForbidden {
			t.Errorf("agent removing an admin = %d, want 403", s)
		}
		if s, m := e.Do("POST", "/organization_memberships", e.AdminToken, map[string]any{"organization_membership": map[string]any{"organization_id": acme}}); s != 422 || fieldCode(m, "user_id") != "BlankValue" {
			t.Errorf("missing user_id = %d %v", s, m)
		}
		if s, _ := e.Do("POST", "/organization_memberships", e.EndUserToken, map[string]any{"organization_membership": map[string]any{"user_id": e.EndUser.ID, "organization_id": acme}}); s != http.StatusForbidden {
			t.Errorf("end user = %d, want 403", s)
		}
	})
}
