package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/web/ui"
)

// uiWrite is a state-changing UI route aimed at a user, with the form an agent
// would send and what an agent may do to the team through it.
type uiWrite struct {
	pattern string // as registered, "POST /users/{id}/profile"
	// path fills in the pattern's wildcards other than {id}; nil when {id} is
	// the only one.
	path func(target *mergedesk.User) string
	form func(f *fixture, target *mergedesk.User) url.Values
	// wantOnStaff is the status an agent gets aiming the route at an agent or
	// an admin: 403 for writes only admins may make (§1.7); 422 for a merge,
	// which any agent may run but rule M1 refuses for staff.
	wantOnStaff int
}

// uiWrites lists every state-changing UI route that names a user. A route the
// UI registers that is neither here nor in uiWritesWithoutTarget fails
// TestUIRoleRoutesCovered.
var uiWrites = []uiWrite{
	{"POST /users/{id}/profile", nil, func(f *fixture, u *mergedesk.User) url.Values {
		return url.Values{"name": {"Hijacked"}, "tags": {"pwned"}, "notes": {"owned by an agent"}}
	}, http.StatusForbidden},
	{"POST /users/{id}/identities", nil, func(f *fixture, u *mergedesk.User) url.Values {
		return url.Values{"type": {"email"}, "value": {fmt.Sprintf("takeover-%d@evil.example", u.ID)}}
	}, http.StatusForbidden},
	{"POST /users/{id}/identities/{identity}/verify", func(u *mergedesk.User) string {
		return fmt.Sprintf("/users/%d/identities/%d/verify", u.ID, u.Identities[0].ID)
	}, func(f *fixture, u *mergedesk.User) url.Values {
		return url.Values{"target": {fmt.Sprint(f.Bob.ID)}}
	}, http.StatusForbidden},
	{"POST /users/{id}/merge", nil, func(f *fixture, u *mergedesk.User) url.Values {
		return url.Values{"target": {fmt.Sprint(f.Bob.ID)}, "version": {"any"}}
	}, http.StatusUnprocessableEntity},
	// Staff have no duplicates (rule D1): there is no suggestion to dismiss.
	{"POST /users/{id}/duplicates/dismiss", nil, func(f *fixture, u *mergedesk.User) url.Values {
		return url.Values{"other": {fmt.Sprint(f.Bob.ID)}}
	}, http.StatusNotFound},
}

// uiWritesWithoutTarget are state-changing routes that name no user.
var uiWritesWithoutTarget = []string{"POST /login", "POST /logout"}

// TestUIRoleMatrix signs in as an agent and aims every state-changing UI route
// at an admin and at another agent: each is refused and the target is left as
// it was. The same routes aimed at an end user work (TestEditProfile,
// TestMergeFlow).
func TestUIRoleMatrix(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		ctx := context.Background()
		other := mustUser(t, f.DB, mergedesk.NewUser{Name: "Otto Otheragent", Role: mergedesk.RoleAgent,
			Email: "otto.agent@helpdesk.example", Verified: true, Password: "other-agent-password"})
		c := agentClient(t, ts.URL)
		for _, target := range []*mergedesk.User{f.Admin, other} {
			before, err := f.DB.User(ctx, target.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range uiWrites {
				t.Run(target.Role+"/"+w.pattern, func(t *testing.T) {
					path := fmt.Sprintf("/users/%d/%s", target.ID, w.pattern[len("POST /users/{id}/"):])
					if w.path != nil {
						path = w.path(before)
					}
					resp, _ := c.post(path, w.form(f, target))
					if resp.StatusCode != w.wantOnStaff {
						t.Errorf("agent POST %s (an %s) = %d, want %d", path, target.Role, resp.StatusCode, w.wantOnStaff)
					}
					after, err := f.DB.User(ctx, target.ID)
					if err != nil {
						t.Fatal(err)
					}
					if after.Name != before.Name || !slices.Equal(after.Tags, before.Tags) || deref(after.Notes) != deref(before.Notes) ||
						!slices.EqualFunc(after.Identities, before.Identities, sameIdentity) || !after.Active {
						t.Errorf("the %s was changed: name %q, tags %v, notes %q, %d identities, active %v",
							target.Role, after.Name, after.Tags, deref(after.Notes), len(after.Identities), after.Active)
					}
				})
			}
			t.Run(target.Role+"/NoEditForms", func(t *testing.T) {
				_, doc := c.get(fmt.Sprintf("/users/%d", target.ID))
				for _, sel := range []string{"form#add-identity", "details#edit-profile"} {
					if query(doc, sel) != nil {
						t.Errorf("the profile of an %s offers %s to an agent", target.Role, sel)
					}
				}
			})
		}
		// The agent's own profile is staff too: only admins edit it (§1.7).
		t.Run("Self", func(t *testing.T) {
			resp, _ := c.post(fmt.Sprintf("/users/%d/profile", f.Agent.ID), url.Values{"name": {"Sam Renamed"}})
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("agent editing own profile = %d, want 403", resp.StatusCode)
			}
		})
		// Admins may.
		t.Run("Admin", func(t *testing.T) {
			a := newClient(t, ts.URL)
			a.login(adminEmail, adminPassword)
			resp, _ := a.post(fmt.Sprintf("/users/%d/profile", other.ID), url.Values{"name": {"Otto Renamed"}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("admin editing an agent = %d, want 303", resp.StatusCode)
			}
			resp, _ = a.post(fmt.Sprintf("/users/%d/identities", other.ID), url.Values{"type": {"email"}, "value": {"otto.second@helpdesk.example"}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("admin adding an agent's identity = %d, want 303", resp.StatusCode)
			}
			_, doc := a.get(fmt.Sprintf("/users/%d", other.ID))
			if query(doc, "form#add-identity") == nil || query(doc, "details#edit-profile") == nil {
				t.Error("an admin is not offered the edit forms of an agent")
			}
		})
	})
}

// sameIdentity compares what a write may change of an identity.
func sameIdentity(a, b mergedesk.Identity) bool {
	return a.ID == b.ID && a.Value == b.Value && a.Verified == b.Verified && a.Primary == b.Primary
}

// TestUIRoleRoutesCovered fails for a state-changing route the UI serves that
// TestUIRoleMatrix does not try: no route is exempt.
func TestUIRoleRoutesCovered(t *testing.T) {
	_, s, _ := setup(t)
	known := slices.Clone(uiWritesWithoutTarget)
	for _, w := range uiWrites {
		known = append(known, w.pattern)
	}
	writes := 0
	for _, p := range s.Routes() {
		method, _, _ := strings.Cut(p, " ")
		if method == http.MethodGet || method == http.MethodHead {
			continue
		}
		writes++
		if !slices.Contains(known, p) {
			t.Errorf("UI route %s changes state but is not in uiWrites (roles_test.go): add it with what an agent may do to the team through it", p)
		}
	}
	if writes != len(known) {
		t.Errorf("the UI serves %d state-changing routes, the tables list %d: %v", writes, len(known), known)
	}
}
