package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/web/api"
)

// rule is an access rule of docs/api.md §1.7.
type rule int

const (
	anyAuth   rule = iota // any authenticated user (no user in the path)
	selfRead              // end users for their own id only; agents and admins for anyone
	selfAdmin             // a user for themselves; admins for anyone (passwords, API tokens)
	staff                 // agents and admins
	admin                 // admins only
	// userWrite: agents and admins, but agents only when the user the route
	// writes is an end user (§1.7: only admins create, change or delete agents
	// and admins, their identities, tags and memberships included).
	userWrite
)

func (r rule) String() string {
	return [...]string{"anyAuth", "selfRead", "selfAdmin", "staff", "admin", "userWrite"}[r]
}

// access is the api.Access a rule is registered with.
func (r rule) access() api.Access {
	switch r {
	case staff, userWrite:
		return api.Staff
	case admin:
		return api.Admin
	}
	return api.Self
}

// specAccess is every endpoint of docs/api.md §2–§14 with its access rule (§1.7).
// Keys use "{}" for every path parameter. A route the server registers that is
// not here fails TestRoleMatrix: add it here with the rule the spec gives it.
var specAccess = map[string]rule{
	// §1.7, §2 users.
	"GET /users/me":                                    selfRead,
	"GET /users/{}":                                    selfRead,
	"POST /users/{}/password":                          selfAdmin,
	"GET /users/{}/api_tokens":                         selfAdmin,
	"POST /users/{}/api_tokens":                        selfAdmin,
	"DELETE /users/{}/api_tokens/{}":                   selfAdmin,
	"GET /locales":                                     anyAuth,
	"GET /users":                                       staff,
	"GET /organizations/{}/users":                      staff,
	"GET /users/show_many":                             staff,
	"POST /users":                                      staff,
	"POST /users/create_many":                          staff,
	"POST /users/create_or_update":                     staff,
	"POST /users/create_or_update_many":                staff,
	"PUT /users/{}":                                    userWrite,
	"DELETE /users/{}":                                 userWrite,
	"GET /users/search":                                staff,
	"GET /users/autocomplete":                          staff,
	"GET /users/{}/related":                            staff,
	"GET /users/{}/tags":                               staff,
	"PUT /users/{}/tags":                               userWrite,
	"POST /users/{}/tags":                              userWrite,
	"DELETE /users/{}/tags":                            userWrite,
	"GET /deleted_users":                               staff,
	"GET /deleted_users/{}":                            staff,
	"GET /users/{}/identities":                         selfRead,
	"GET /users/{}/identities/{}":                      selfRead,
	"POST /users/{}/identities":                        userWrite,
	"PUT /users/{}/identities/{}":                      userWrite,
	"PUT /users/{}/identities/{}/make_primary":         userWrite,
	"PUT /users/{}/identities/{}/verify":               userWrite,
	"PUT /users/{}/identities/{}/request_verification": userWrite,
	"DELETE /users/{}/identities/{}":                   userWrite,
	// §4 organizations and memberships.
	"GET /organizations":                                     staff,
	"GET /organizations/{}":                                  staff,
	"GET /organizations/show_many":                           staff,
	"GET /organizations/search":                              staff,
	"GET /organizations/autocomplete":                        staff,
	"POST /organizations":                                    staff,
	"PUT /organizations/{}":                                  staff,
	"DELETE /organizations/{}":                               staff,
	"GET /organizations/{}/organization_memberships":         staff,
	"GET /organizations/{}/tickets":                          staff,
	"GET /organization_memberships":                          staff,
	"GET /users/{}/organization_memberships":                 staff,
	"GET /organization_memberships/{}":                       staff,
	"POST /organization_memberships":                         staff,
	"DELETE /organization_memberships/{}":                    userWrite,
	"DELETE /users/{}/organizations/{}":                      userWrite,
	"PUT /users/{}/organizations/{}/make_default":            userWrite,
	"PUT /users/{}/organization_memberships/{}/make_default": userWrite,
	// §5 groups: reading is for agents, writing for admins.
	"GET /groups":       staff,
	"GET /groups/{}":    staff,
	"POST /groups":      admin,
	"PUT /groups/{}":    admin,
	"DELETE /groups/{}": admin,
	// §6 tickets, §7 audits.
	"GET /tickets":                      staff,
	"GET /users/{}/tickets/requested":   staff,
	"GET /users/{}/tickets/ccd":         staff,
	"GET /users/{}/tickets/assigned":    staff,
	"GET /tickets/{}":                   staff,
	"GET /tickets/show_many":            staff,
	"POST /tickets":                     staff,
	"PUT /tickets/{}":                   staff,
	"DELETE /tickets/{}":                staff,
	"POST /tickets/create_many":         staff,
	"GET /tickets/{}/comments":          staff,
	"POST /imports/tickets":             admin,
	"POST /imports/tickets/create_many": admin,
	"GET /tickets/{}/audits":            staff,
	"GET /tickets/{}/audits/{}":         staff,
	"GET /tickets/{}/audits/count":      staff,
	"GET /ticket_audits":                admin,
	// §8 jobs, §9 search.
	"GET /job_statuses":           staff,
	"GET /job_statuses/show_many": staff,
	"GET /job_statuses/{}":        staff,
	"GET /search":                 staff,
	"GET /search/count":           staff,
	// §10 triggers and webhooks.
	"GET /triggers":                   staff,
	"GET /triggers/active":            staff,
	"GET /triggers/{}":                staff,
	"POST /triggers":                  admin,
	"PUT /triggers/{}":                admin,
	"DELETE /triggers/{}":             admin,
	"GET /webhooks":                   admin,
	"GET /webhooks/{}":                admin,
	"POST /webhooks":                  admin,
	"PUT /webhooks/{}":                admin,
	"PATCH /webhooks/{}":              admin,
	"DELETE /webhooks/{}":             admin,
	"GET /webhooks/{}/signing_secret": admin,
	"GET /outbox":                     admin, // [ext] trigger outbox
	"GET /outbox/{}":                  admin,
	// §11 Help Center.
	"GET /community/posts":                   staff,
	"POST /community/posts":                  staff,
	"GET /community/posts/{}":                staff,
	"DELETE /community/posts/{}":             staff,
	"GET /community/posts/{}/comments":       staff,
	"POST /community/posts/{}/comments":      staff,
	"GET /community/posts/{}/votes":          staff,
	"POST /community/posts/{}/votes":         staff,
	"POST /community/posts/{}/up":            staff,
	"POST /community/posts/{}/down":          staff,
	"GET /community/posts/{}/subscriptions":  staff,
	"POST /community/posts/{}/subscriptions": staff,
	// Registered by helpcenter.go though docs/api.md §11 does not list them.
	"GET /community/posts/{}/comments/{}":      staff,
	"GET /community/posts/{}/subscriptions/{}": staff,
	"GET /help_center/votes/{}":                staff,
	"GET /community/users/{}/posts":            staff,
	"GET /community/users/{}/comments":         staff,
	// §12 merges, §13 channels, §14 settings.
	"PUT /users/{}/merge":          staff,
	"POST /users/{}/merge_preview": staff,
	"POST /users/merge_many":       staff,
	"GET /user_merges":             admin,
	"GET /user_merges/{}":          admin,
	"POST /channels/messages":      staff,
	"GET /account/settings":        staff,
	"PUT /account/settings":        admin,
	// Duplicates (docs/duplicates.md D11): agents and admins, never end users.
	"GET /users/{}/duplicates":              staff,
	"GET /duplicate_suggestions":            staff,
	"GET /duplicate_suggestions/{}":         staff,
	"PUT /duplicate_suggestions/{}/dismiss": staff,
	"PUT /duplicate_suggestions/{}/restore": staff,
	"POST /duplicate_scans":                 staff,
}

var paramRE = regexp.MustCompile(`\{[^}]*\}`)

func routeKey(r api.Route) string {
	return r.Method + " " + paramRE.ReplaceAllString(r.Pattern, "{}")
}

// roleFixture holds the ids substituted for path parameters.
type roleFixture struct {
	// byParent maps the path segment before a parameter ("users", "tickets") to an id.
	victim, own, other map[string]string
	// staff are members of the team an agent probes as targets: an admin and
	// another agent, each with an identity, an API token and a membership.
	staff []staffVictim
}

// staffVictim is an agent or admin used as the target of a route.
type staffVictim struct {
	role string
	ids  map[string]string
}

// userRoute reports whether pattern names a user, or a membership (which
// belongs to one), in its path.
func userRoute(pattern string) bool {
	return strings.Contains(pattern, "/users/{") && !strings.HasPrefix(pattern, "/community/") ||
		strings.HasPrefix(pattern, "/organization_memberships/{")
}

// newStaffVictim creates a staff member with everything a user route can name.
func newStaffVictim(t *testing.T, e *env, role, name, email, org string) staffVictim {
	t.Helper()
	ids := map[string]string{"organizations": org}
	uid := mkUser(t, e, map[string]any{"name": name, "email": email, "role": role})
	ids["users"] = fmt.Sprint(uid)
	m := e.Must(http.StatusCreated, "POST", fmt.Sprintf("/users/%d/identities", uid),
		map[string]any{"identity": map[string]any{"type": "email", "value": "second." + email}})
	ids["identities"] = fmt.Sprint(id(t, obj(t, m, "identity")))
	ids["api_tokens"] = createID(e, fmt.Sprintf("/users/%d/api_tokens", uid), "api_token", map[string]any{"api_token": map[string]any{"description": "spare"}})
	ids["organization_memberships"] = createID(e, "/organization_memberships", "organization_membership",
		map[string]any{"organization_membership": map[string]any{"user_id": uid, "organization_id": org}})
	if ids["api_tokens"] == "999999" || ids["organization_memberships"] == "999999" {
		t.Fatalf("staff victim %s: fixtures not created: %v", role, ids)
	}
	return staffVictim{role: role, ids: ids}
}

// create posts body as admin and returns the new record's id, or "999999" when
// the endpoint is not there yet (a 404 for allowed roles is fine).
func createID(e *env, path, key string, body any) string {
	s, m := e.Do("POST", path, e.AdminToken, body)
	if s != http.StatusCreated && s != http.StatusOK {
		return "999999"
	}
	o, ok := m[key].(map[string]any)
	if !ok {
		return "999999"
	}
	switch v := o["id"].(type) {
	case float64:
		return fmt.Sprint(int64(v))
	case string:
		return v
	}
	return "999999"
}

func newRoleFixture(t *testing.T, e *env) roleFixture {
	t.Helper()
	victim := map[string]string{}
	uid := mkUser(t, e, map[string]any{"name": "Victor Victim", "email": "victim@example.com", "phone": "+14155550150"})
	victim["users"] = fmt.Sprint(uid)
	victim["community/users"] = victim["users"]
	m := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/identities", uid), nil)
	victim["identities"] = fmt.Sprint(idsOf(m["identities"].([]any))[0])
	victim["api_tokens"] = createID(e, fmt.Sprintf("/users/%d/api_tokens", uid), "api_token", map[string]any{"api_token": map[string]any{"description": "spare"}})
	gone := mkUser(t, e, map[string]any{"name": "Gone", "email": "gone@example.com"})
	e.Must(http.StatusOK, "DELETE", fmt.Sprintf("/users/%d", gone), nil)
	victim["deleted_users"] = fmt.Sprint(gone)
	victim["groups"] = createID(e, "/groups", "group", map[string]any{"group": map[string]any{"name": "Role Group"}})
	victim["organizations"] = createID(e, "/organizations", "organization", map[string]any{"organization": map[string]any{"name": "Role Org"}})
	victim["organization_memberships"] = createID(e, "/organization_memberships", "organization_membership",
		map[string]any{"organization_membership": map[string]any{"user_id": uid, "organization_id": victim["organizations"]}})
	victim["tickets"] = createID(e, "/tickets", "ticket", map[string]any{"ticket": map[string]any{"subject": "Role ticket", "requester_id": uid,
		"comment": map[string]any{"body": "hello"}}})
	victim["audits"] = "999999"
	if s, m := e.Do("GET", "/tickets/"+victim["tickets"]+"/audits", e.AdminToken, nil); s == http.StatusOK {
		if l, _ := m["audits"].([]any); len(l) > 0 {
			victim["audits"] = fmt.Sprint(idsOf(l)[0])
		}
	}
	victim["job_statuses"] = createID(e, "/users/create_many", "job_status", map[string]any{"users": []any{map[string]any{"name": "Jobbed"}}})
	victim["posts"] = createID(e, "/community/posts", "post", map[string]any{"post": map[string]any{"title": "Role post", "details": "d", "author_id": uid}})
	victim["triggers"] = createID(e, "/triggers", "trigger", map[string]any{"trigger": map[string]any{"title": "Role trigger",
		"conditions": map[string]any{"all": []any{map[string]any{"field": "update_type", "operator": "is", "value": "Create"}}},
		"actions":    []any{map[string]any{"field": "priority", "value": "high"}}}})
	victim["webhooks"] = createID(e, "/webhooks", "webhook", map[string]any{"webhook": map[string]any{"name": "Role hook",
		"endpoint": "http://127.0.0.1:1/hook", "http_method": "POST", "request_format": "json", "status": "inactive"}})
	victim["duplicate_suggestions"] = fmt.Sprint(mkSuggestion(t, e, "Role Twin"))

	own := map[string]string{"users": fmt.Sprint(e.EndUser.ID)}
	own["community/users"] = own["users"]
	m = e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/identities", e.EndUser.ID), nil)
	own["identities"] = fmt.Sprint(idsOf(m["identities"].([]any))[0])
	own["api_tokens"] = createID(e, fmt.Sprintf("/users/%d/api_tokens", e.EndUser.ID), "api_token", map[string]any{"api_token": map[string]any{"description": "spare"}})

	other := map[string]string{"users": fmt.Sprint(e.Agent.ID), "community/users": fmt.Sprint(e.Agent.ID)}
	m = e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/identities", e.Agent.ID), nil)
	other["identities"] = fmt.Sprint(idsOf(m["identities"].([]any))[0])
	other["api_tokens"] = "999999"
	staff := []staffVictim{
		newStaffVictim(t, e, "admin", "Stella Staffadmin", "stella@mergedesk.test", victim["organizations"]),
		newStaffVictim(t, e, "agent", "Otto Otheragent", "otto@mergedesk.test", victim["organizations"]),
	}
	return roleFixture{victim: victim, own: own, other: other, staff: staff}
}

// fill substitutes ids for the parameters of pattern.
func fill(pattern string, ids ...map[string]string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		parent := ""
		if i > 0 {
			parent = segs[i-1]
		}
		if parent == "users" && i > 1 && segs[i-2] == "community" {
			parent = "community/users"
		}
		segs[i] = "999999"
		for _, m := range ids {
			if v, ok := m[parent]; ok {
				segs[i] = v
				break
			}
		}
	}
	return strings.Join(segs, "/")
}

// probe sends a request as one role. Writes carry an empty object, so most of
// them stop at validation after the access check.
func probe(e *env, method, path, token string) (int, map[string]any, http.Header) {
	e.t.Helper()
	var body io.Reader
	if method == "POST" || method == "PUT" || method == "PATCH" {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, e.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

// TestRoleMatrix checks every registered route for every role against §1.7.
func TestRoleMatrix(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		routes := e.Server.Routes()
		if len(routes) == 0 {
			t.Fatal("no routes")
		}
		fx := newRoleFixture(t, e)

		for _, r := range routes {
			key := routeKey(r)
			want, ok := specAccess[key]
			if !ok {
				t.Errorf("route %s is not in the role table (roles_test.go specAccess): add it with its §1.7 rule", key)
				continue
			}
			if r.Access != want.access() {
				t.Errorf("%s is registered with access %d, want %d (%v)", key, r.Access, want.access(), want)
			}
		}

		// Destructive admin calls go last so the other roles see the fixtures,
		// and deleting users goes last of all: it takes their memberships along.
		rank := func(r api.Route) int {
			switch {
			case r.Method == "DELETE" && r.Pattern == "/users/{id}":
				return 2
			case r.Method == "DELETE":
				return 1
			}
			return 0
		}
		sorted := append([]api.Route(nil), routes...)
		sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })

		check := func(t *testing.T, who, method, path, token string, allowed bool) {
			t.Helper()
			s, m, h := probe(e, method, path, token)
			switch {
			case s >= 500:
				t.Errorf("%s %s %s = %d %v: never a 5xx", who, method, path, s, m)
			case token == "":
				if s != http.StatusUnauthorized || m["error"] != "Couldn't authenticate you" || h.Get("WWW-Authenticate") != `Basic realm="Mergedesk"` {
					t.Errorf("anonymous %s %s = %d %v (WWW-Authenticate %q), want 401", method, path, s, m, h.Get("WWW-Authenticate"))
				}
			case allowed:
				if s == http.StatusUnauthorized || s == http.StatusForbidden {
					t.Errorf("%s %s %s = %d %v, want it allowed", who, method, path, s, m)
				}
			default:
				if s != http.StatusForbidden || m["error"] != "Forbidden" || m["description"] != "You do not have access to this page." {
					t.Errorf("%s %s %s = %d %v, want 403 Forbidden", who, method, path, s, m)
				}
			}
		}

		// Every route that names a user, aimed at the team: an agent may read
		// agents and admins but not write them, their identities, tags,
		// memberships or credentials (§1.7). These run before any admin call, so
		// an admin's DELETE cannot hide an agent's write behind a 404.
		for _, r := range sorted {
			want := specAccess[routeKey(r)]
			if !userRoute(r.Pattern) {
				continue
			}
			t.Run(strings.ReplaceAll(routeKey(r), "/", "_")+"_on_staff", func(t *testing.T) {
				for _, sv := range fx.staff {
					path := fill(r.Pattern, sv.ids, fx.victim)
					check(t, "agent (on an "+sv.role+")", r.Method, path, e.AgentToken, want == staff || want == selfRead)
				}
			})
		}

		for _, r := range sorted {
			key := routeKey(r)
			want, ok := specAccess[key]
			if !ok { // not in the table (reported above): judge it by its registration
				want = map[api.Access]rule{api.Self: selfRead, api.Staff: staff, api.Admin: admin}[r.Access]
			}
			pattern := r.Pattern
			if (want == selfRead || want == selfAdmin) && !strings.Contains(pattern, "{") {
				want = anyAuth // GET /users/me
			}
			t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
				victimPath := fill(pattern, fx.victim)
				check(t, "anonymous", r.Method, victimPath, "", false)
				switch want {
				case anyAuth:
					check(t, "end-user", r.Method, fill(pattern, fx.own), e.EndUserToken, true)
				case selfRead, selfAdmin:
					check(t, "end-user (own id)", r.Method, fill(pattern, fx.own), e.EndUserToken, true)
					check(t, "end-user (other id)", r.Method, fill(pattern, fx.other), e.EndUserToken, false)
					check(t, "agent (other id)", r.Method, victimPath, e.AgentToken, want == selfRead)
				default:
					check(t, "end-user", r.Method, fill(pattern, fx.own, fx.victim), e.EndUserToken, false)
					check(t, "agent", r.Method, victimPath, e.AgentToken, want == staff || want == userWrite)
				}
				check(t, "admin", r.Method, victimPath, e.AdminToken, true)
				if userRoute(pattern) {
					for _, sv := range fx.staff {
						check(t, "admin (on an "+sv.role+")", r.Method, fill(pattern, sv.ids, fx.victim), e.AdminToken, true)
					}
				}
			})
		}
	})
}

// TestRoleSpecRoutesRegistered fails for every endpoint of the spec the server
// does not serve. No endpoint is exempt.
func TestRoleSpecRoutesRegistered(t *testing.T) {
	srv := &api.Server{}
	have := map[string]bool{}
	for _, r := range srv.Routes() {
		have[routeKey(r)] = true
	}
	var missing []string
	for k := range specAccess {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("spec endpoint not registered: %s", k)
	}
}

// TestRoleWrites covers the role rules that depend on the record, not the route:
// only admins create, change or delete agents and admins, or change a role.
func TestRoleWrites(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		eu := mkUser(t, e, map[string]any{"name": "Plain User", "email": "plain@example.com"})
		otherAgent := mkUser(t, e, map[string]any{"name": "Otto Otheragent", "email": "otto@example.com", "role": "agent"})
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/users/%d/tags", e.Admin.ID), map[string]any{"tags": []string{"keep"}})
		adminIdent := id(t, obj(t, e.Must(http.StatusCreated, "POST", fmt.Sprintf("/users/%d/identities", e.Admin.ID),
			map[string]any{"identity": map[string]any{"type": "email", "value": "ada.second@mergedesk.test"}}), "identity"))
		org := id(t, obj(t, e.Must(http.StatusCreated, "POST", "/organizations", map[string]any{"organization": map[string]any{"name": "Writes Org"}}), "organization"))
		cases := []struct {
			name         string
			method, path string
			body         any
			want         int
		}{
			{"AgentCreatesAdmin", "POST", "/users", map[string]any{"user": map[string]any{"name": "X", "role": "admin"}}, 403},
			{"AgentCreatesAgent", "POST", "/users", map[string]any{"user": map[string]any{"name": "X", "role": "agent"}}, 403},
			{"AgentPromotes", "PUT", fmt.Sprintf("/users/%d", eu), map[string]any{"user": map[string]any{"role": "agent"}}, 403},
			{"AgentEditsAdmin", "PUT", fmt.Sprintf("/users/%d", e.Admin.ID), map[string]any{"user": map[string]any{"notes": "x"}}, 403},
			{"AgentDeletesAdmin", "DELETE", fmt.Sprintf("/users/%d", e.Admin.ID), nil, 403},
			{"AgentCreateOrUpdateAdmin", "POST", "/users/create_or_update", map[string]any{"user": map[string]any{"email": adminEmail, "name": "Hijack"}}, 403},
			{"AgentEditsEndUser", "PUT", fmt.Sprintf("/users/%d", eu), map[string]any{"user": map[string]any{"notes": "x", "role": "end-user"}}, 200},
			{"AgentCreatesEndUser", "POST", "/users", map[string]any{"user": map[string]any{"name": "Y", "role": "end-user"}}, 201},
			// Everything that writes a user goes through the one rule: identities,
			// tags, memberships and credentials of the team are the admins' to change.
			{"AgentAddsAdminIdentity", "POST", fmt.Sprintf("/users/%d/identities", e.Admin.ID),
				map[string]any{"identity": map[string]any{"type": "email", "value": "takeover@evil.example"}}, 403},
			{"AgentDeletesAdminIdentity", "DELETE", fmt.Sprintf("/users/%d/identities/%d", e.Admin.ID, adminIdent), nil, 403},
			{"AgentMakesAdminIdentityPrimary", "PUT", fmt.Sprintf("/users/%d/identities/%d/make_primary", e.Admin.ID, adminIdent), nil, 403},
			{"AgentVerifiesAdminIdentity", "PUT", fmt.Sprintf("/users/%d/identities/%d/verify", e.Admin.ID, adminIdent), nil, 403},
			{"AgentChangesAdminIdentity", "PUT", fmt.Sprintf("/users/%d/identities/%d", e.Admin.ID, adminIdent),
				map[string]any{"identity": map[string]any{"value": "takeover@evil.example"}}, 403},
			{"AgentAddsAdminTags", "PUT", fmt.Sprintf("/users/%d/tags", e.Admin.ID), map[string]any{"tags": []string{"pwned"}}, 403},
			{"AgentSetsAdminTags", "POST", fmt.Sprintf("/users/%d/tags", e.Admin.ID), map[string]any{"tags": []string{"pwned"}}, 403},
			{"AgentRemovesAdminTags", "DELETE", fmt.Sprintf("/users/%d/tags", e.Admin.ID), map[string]any{"tags": []string{"keep"}}, 403},
			{"AgentAddsAgentIdentity", "POST", fmt.Sprintf("/users/%d/identities", otherAgent),
				map[string]any{"identity": map[string]any{"type": "email", "value": "takeover2@evil.example"}}, 403},
			{"AgentJoinsAdminToOrganization", "POST", "/organization_memberships",
				map[string]any{"organization_membership": map[string]any{"user_id": e.Admin.ID, "organization_id": org}}, 403},
			{"AgentSetsAdminPassword", "POST", fmt.Sprintf("/users/%d/password", e.Admin.ID), map[string]any{"password": "hijacked-password"}, 403},
			{"AgentCreatesAdminToken", "POST", fmt.Sprintf("/users/%d/api_tokens", e.Admin.ID), map[string]any{"api_token": map[string]any{}}, 403},
			{"AgentSetsEndUserPassword", "POST", fmt.Sprintf("/users/%d/password", eu), map[string]any{"password": "long-enough-1"}, 403},
			{"AgentCreateOrUpdateMakesAdmin", "POST", "/users/create_or_update", map[string]any{"user": map[string]any{"email": "fresh@example.com", "name": "F", "role": "admin"}}, 403},
			{"AgentAddsEndUserIdentity", "POST", fmt.Sprintf("/users/%d/identities", eu),
				map[string]any{"identity": map[string]any{"type": "email", "value": "plain.second@example.com"}}, 201},
			{"AgentAddsEndUserTags", "PUT", fmt.Sprintf("/users/%d/tags", eu), map[string]any{"tags": []string{"fine"}}, 200},
			{"AgentJoinsEndUserToOrganization", "POST", "/organization_memberships",
				map[string]any{"organization_membership": map[string]any{"user_id": eu, "organization_id": org}}, 201},
			{"AgentSetsOwnPassword", "POST", fmt.Sprintf("/users/%d/password", e.Agent.ID), map[string]any{"password": "password-agent"}, 200},
			{"AgentEditsSelf", "PUT", fmt.Sprintf("/users/%d", e.Agent.ID), map[string]any{"user": map[string]any{"notes": "me"}}, 403},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s, m := e.Do(c.method, c.path, e.AgentToken, c.body)
				if s != c.want {
					t.Errorf("%s %s = %d %v, want %d", c.method, c.path, s, m, c.want)
				}
			})
		}
		if u := obj(t, e.Must(200, "GET", fmt.Sprintf("/users/%d", e.Admin.ID), nil), "user"); u["name"] != "Ada Admin" || u["notes"] != nil ||
			fmt.Sprint(u["tags"]) != "[keep]" || u["organization_id"] != nil {
			t.Errorf("admin was changed by an agent: %v", u)
		}
		idents := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/identities", e.Admin.ID), nil)["identities"].([]any)
		if len(idents) != 2 {
			t.Errorf("admin identities after the agent's attempts = %v, want the two the admin had", idents)
		}
		for _, v := range idents {
			if ident := v.(map[string]any); ident["value"] != adminEmail && ident["value"] != "ada.second@mergedesk.test" {
				t.Errorf("admin gained identity %v", ident["value"])
			}
		}
		// Admins may.
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/users/%d", eu), map[string]any{"user": map[string]any{"role": "agent"}})
	})
}

// TestRoleAuthSchemes covers the three schemes and the 401 cases of §1.7.
func TestRoleAuthSchemes(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		get := func(set func(*http.Request)) int {
			req, _ := http.NewRequest("GET", e.URL+"/users/me.json", nil)
			set(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		cases := []struct {
			name string
			set  func(*http.Request)
			want int
		}{
			{"Bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+e.AgentToken) }, 200},
			{"TokenBasic", func(r *http.Request) { r.SetBasicAuth(agentEmail+"/token", e.AgentToken) }, 200},
			{"TokenBasicEmailCase", func(r *http.Request) { r.SetBasicAuth("AGENT@mergedesk.test/token", e.AgentToken) }, 200},
			{"Password", func(r *http.Request) { r.SetBasicAuth(agentEmail, "password-agent") }, 200},
			{"WrongPassword", func(r *http.Request) { r.SetBasicAuth(agentEmail, "nope-nope") }, 401},
			{"TokenOfOtherUser", func(r *http.Request) { r.SetBasicAuth(agentEmail+"/token", e.AdminToken) }, 401},
			{"WrongBearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
			{"GarbageHeader", func(r *http.Request) { r.Header.Set("Authorization", "Negotiate abc") }, 401},
			{"BadBase64", func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, 401},
			{"CredentialsInURL", func(r *http.Request) { r.URL.User = nil; r.URL.RawQuery = "api_token=" + e.AgentToken }, 401},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := get(c.set); got != c.want {
					t.Errorf("status = %d, want %d", got, c.want)
				}
			})
		}
		// A suspended user cannot authenticate.
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/users/%d", e.EndUser.ID), map[string]any{"user": map[string]any{"suspended": true}})
		if s, _ := e.Do("GET", "/users/me", e.EndUserToken, nil); s != http.StatusUnauthorized {
			t.Errorf("suspended user = %d, want 401", s)
		}
	})
}

// TestRoleJobVisibility: a job status is seen by the agent who started it and by
// admins. Another agent gets 404, as for a job that does not exist, so job ids
// are not confirmed to people who may not read them (docs/authorization.md).
// A duplicate scan is account-wide: every agent may watch it (rule D11), but
// it stays out of the list of the caller's own jobs.
func TestRoleJobVisibility(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		other, err := e.DB.CreateUser(ctx, mergedesk.NewUser{Name: "Otto Otheragent", Role: mergedesk.RoleAgent, Email: "otto@mergedesk.test"})
		if err != nil {
			t.Fatal(err)
		}
		otherTok, err := e.DB.CreateAPIToken(ctx, other.ID, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		start := func(token, name string) string {
			t.Helper()
			s, m := e.Do("POST", "/users/create_many", token, map[string]any{"users": []any{map[string]any{"name": name}}})
			if s != http.StatusOK {
				t.Fatalf("create_many = %d %v", s, m)
			}
			return obj(t, m, "job_status")["id"].(string)
		}
		adminJob, agentJob, otherJob := start(e.AdminToken, "By Admin"), start(e.AgentToken, "By Agent"), start(otherTok.Token, "By Other")
		all := strings.Join([]string{adminJob, agentJob, otherJob}, ",")
		s, m := e.Do("POST", "/duplicate_scans", e.AdminToken, nil)
		if s != http.StatusOK {
			t.Fatalf("POST /duplicate_scans = %d %v", s, m)
		}
		scanJob := obj(t, m, "job_status")["id"].(string)

		cases := []struct {
			name, token, path string
			want              int
			ids               []string // show_many: the jobs listed
		}{
			{"AgentOwnJob", e.AgentToken, "/job_statuses/" + agentJob, 200, nil},
			{"AgentAdminsJob", e.AgentToken, "/job_statuses/" + adminJob, 404, nil},
			{"AgentOtherAgentsJob", e.AgentToken, "/job_statuses/" + otherJob, 404, nil},
			{"AdminAgentsJob", e.AdminToken, "/job_statuses/" + agentJob, 200, nil},
			{"AdminOwnJob", e.AdminToken, "/job_statuses/" + adminJob, 200, nil},
			{"AgentShowMany", e.AgentToken, "/job_statuses/show_many?ids=" + all, 200, []string{agentJob}},
			{"AdminShowMany", e.AdminToken, "/job_statuses/show_many?ids=" + all, 200, []string{adminJob, agentJob, otherJob}},
			{"AgentList", e.AgentToken, "/job_statuses", 200, []string{agentJob}},
			{"EndUser", e.EndUserToken, "/job_statuses/" + agentJob, 403, nil},
			{"AgentAdminsScan", e.AgentToken, "/job_statuses/" + scanJob, 200, nil},
			{"OtherAgentAdminsScan", otherTok.Token, "/job_statuses/" + scanJob, 200, nil},
			{"AgentShowManyScan", e.AgentToken, "/job_statuses/show_many?ids=" + all + "," + scanJob, 200, []string{agentJob, scanJob}},
			{"AgentListNoScan", e.AgentToken, "/job_statuses", 200, []string{agentJob}},
			{"EndUserScan", e.EndUserToken, "/job_statuses/" + scanJob, 403, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s, m := e.Do("GET", c.path, c.token, nil)
				if s != c.want {
					t.Fatalf("GET %s = %d %v, want %d", c.path, s, m, c.want)
				}
				if c.want == http.StatusNotFound && m["error"] != "RecordNotFound" {
					t.Errorf("body = %v, want RecordNotFound", m)
				}
				if c.ids == nil {
					return
				}
				var got []string
				for _, j := range m["job_statuses"].([]any) {
					got = append(got, j.(map[string]any)["id"].(string))
				}
				sort.Strings(got)
				want := append([]string(nil), c.ids...)
				sort.Strings(want)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("jobs = %v, want %v", got, want)
				}
			})
		}
	})
}
