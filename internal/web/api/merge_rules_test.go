package api_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/store/storetest"
)

// This file proves the merge engine against docs/merge.md (M1–M31) and docs/api.md
// §7.1 and §12, end to end through the API, on every database.

// eachMergeDB is eachDB plus a raw connection to the same database, for the full
// dumps that prove a refused merge or a preview writes nothing.
func eachMergeDB(t *testing.T, fn func(t *testing.T, e *env, raw *sql.DB)) {
	t.Helper()
	for name, dsn := range storetest.DSNs(t) {
		t.Run(name, func(t *testing.T) {
			db := storetest.MustOpen(t, dsn)
			driver, src := "pgx", dsn
			if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
				driver, src = "sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
			}
			raw, err := sql.Open(driver, src)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			fn(t, newEnv(t, db), raw)
		})
	}
}

// dumpAll returns every row of every table (SELECT *), tables by name and rows
// sorted: equal dumps mean nothing was written.
func dumpAll(t testing.TB, raw *sql.DB) string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
	var v string
	if raw.QueryRow("SELECT sqlite_version()").Scan(&v) != nil {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
	}
	rows, err := raw.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		tables = append(tables, s)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("dump found only tables %v", tables)
	}
	var b strings.Builder
	for _, tbl := range tables {
		rows, err := raw.Query("SELECT * FROM " + tbl)
		if err != nil {
			t.Fatalf("dump %s: %v", tbl, err)
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals, ptrs := make([]any, len(cols)), make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, x := range vals {
				if bs, ok := x.([]byte); ok {
					vals[i] = string(bs)
				}
			}
			lines = append(lines, fmt.Sprint(vals))
		}
		rows.Close()
		sort.Strings(lines)
		fmt.Fprintf(&b, "== %s %v\n%s\n", tbl, cols, strings.Join(lines, "\n"))
	}
	return b.String()
}

func sameDump(t *testing.T, what, before, after string) {
	t.Helper()
	if before == after {
		return
	}
	a, b := strings.Split(before, "\n"), strings.Split(after, "\n")
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			t.Errorf("%s changed the database at line %d:\n-%s\n+%s", what, i+1, a[i], b[i])
			return
		}
	}
	t.Errorf("%s changed the database (%d lines before, %d after)", what, len(a), len(b))
}

func mergePath(src int64) string   { return fmt.Sprintf("/users/%d/merge", src) }
func previewPath(src int64) string { return fmt.Sprintf("/users/%d/merge_preview", src) }
func target(id int64) map[string]any {
	return map[string]any{"user": map[string]any{"id": id}}
}

// base returns details.base of a 422 as "Code:user" strings (user "null" when absent).
func base(t testing.TB, m map[string]any) []string {
	t.Helper()
	d, _ := m["details"].(map[string]any)
	list, _ := d["base"].([]any)
	return blockerStrings(t, list)
}

func blockerStrings(t testing.TB, list []any) []string {
	t.Helper()
	out := []string{}
	for _, x := range list {
		b := x.(map[string]any)
		if s, _ := b["description"].(string); s == "" {
			t.Errorf("blocker without a description: %v", b)
		}
		u := "null"
		if f, ok := b["user_id"].(float64); ok {
			u = fmt.Sprint(int64(f))
		}
		out = append(out, fmt.Sprintf("%v:%s", b["error"], u))
	}
	return out
}

func TestMergeEligibility(t *testing.T) {
	eachMergeDB(t, func(t *testing.T, e *env, raw *sql.DB) {
		ok1 := mkUserID(t, e, map[string]any{"name": "Ok One", "email": "ok1@example.com"})
		ok2 := mkUserID(t, e, map[string]any{"name": "Ok Two", "email": "ok2@example.com"})
		phoneOnly := mkUserID(t, e, map[string]any{"name": "Phone Only", "phone": "+14155550111", "external_id": "crm-p"})
		xOnly := mkUserID(t, e, map[string]any{"name": "X Only", "identities": []any{map[string]any{"type": "twitter", "value": "xonly"}}})
		verifiedFB := mkUserID(t, e, map[string]any{"name": "FB", "verified": true, "identities": []any{map[string]any{"type": "facebook", "value": "fb-1"}}})
		ext := mkUserID(t, e, map[string]any{"name": "Ext", "email": "ext@example.com", "external_id": "crm-1"})
		deleted := mkUserID(t, e, map[string]any{"name": "Deleted", "email": "del@example.com"})
		e.Must(http.StatusOK, "DELETE", fmt.Sprintf("/users/%d", deleted), nil)
		merged := mkUserID(t, e, map[string]any{"name": "Merged", "email": "merged@example.com"})
		e.Must(http.StatusOK, "PUT", mergePath(merged), target(ok2))
		e.Must(http.StatusOK, "PUT", "/account/settings", map[string]any{"settings": map[string]any{"sso": map[string]any{"saml": map[string]any{"enabled": true}}}})
		agent, admin := e.Agent.ID, e.Admin.ID
		s := func(code string, id int64) string { return fmt.Sprintf("%s:%d", code, id) }

		e.settle(t)
		before := dumpAll(t, raw)
		for _, tc := range []struct {
			name     string
			src, dst int64
			want     []string
		}{
			{"ErrSameUser", ok1, ok1, []string{"SameUser:null"}},
			{"ErrNotEndUserSource", agent, ok1, []string{s("NotEndUser", agent)}},
			{"ErrNotEndUserTarget", ok1, admin, []string{s("NotEndUser", admin)}},
			{"ErrUserInactiveDeleted", deleted, ok1, []string{s("UserInactive", deleted)}},
			{"ErrUserInactiveMerged", ok1, merged, []string{s("UserInactive", merged)}},
			{"ErrUnverifiedWithoutEmailOrX", phoneOnly, ok1, []string{s("UnverifiedWithoutEmailOrX", phoneOnly), s("ExternalIdWithSSO", phoneOnly)}},
			{"ErrExternalIdWithSSO", ok1, ext, []string{s("ExternalIdWithSSO", ext)}},
			{"ErrEveryRule", phoneOnly, admin, []string{s("NotEndUser", admin), s("UnverifiedWithoutEmailOrX", phoneOnly), s("ExternalIdWithSSO", phoneOnly)}},
			{"ErrBothSides", merged, agent, []string{s("NotEndUser", agent), s("UserInactive", merged)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, m := e.Do("PUT", mergePath(tc.src), e.AgentToken, target(tc.dst))
				if status != http.StatusUnprocessableEntity || m["error"] != "RecordInvalid" {
					t.Fatalf("merge = %d %v, want 422 RecordInvalid", status, m)
				}
				if got := base(t, m); !slices.Equal(got, tc.want) {
					t.Errorf("details.base = %v, want %v", got, tc.want)
				}
				if tc.name == "ErrSameUser" {
					b := m["details"].(map[string]any)["base"].([]any)[0].(map[string]any)
					if v, ok := b["user_id"]; ok && v != nil {
						t.Errorf("SameUser user_id = %v, want null", v)
					}
				}
				p := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", previewPath(tc.src), target(tc.dst)), "merge_preview")
				if got := blockerStrings(t, p["blockers"].([]any)); p["eligible"] != false || !slices.Equal(got, tc.want) {
					t.Errorf("preview eligible %v blockers %v, want %v", p["eligible"], got, tc.want)
				}
			})
		}
		for _, tc := range []struct {
			name   string
			token  string
			path   string
			body   any
			status int
			code   string
		}{
			{"ErrForbiddenEndUser", e.EndUserToken, mergePath(ok1), target(ok2), 403, "Forbidden"},
			{"ErrForbiddenEndUserSelf", e.EndUserToken, mergePath(e.EndUser.ID), target(ok2), 403, "Forbidden"},
			{"ErrForbiddenEndUserPreview", e.EndUserToken, previewPath(ok1), target(ok2), 403, "Forbidden"},
			{"ErrForbiddenEndUserMany", e.EndUserToken, "/users/merge_many", map[string]any{"merges": []any{}}, 403, "Forbidden"},
			{"ErrMissingUser", e.AgentToken, mergePath(ok1), map[string]any{}, 400, "ParameterMissing"},
			{"ErrMissingID", e.AgentToken, mergePath(ok1), map[string]any{"user": map[string]any{"name": "x"}}, 400, "ParameterMissing"},
			{"ErrIDNotInteger", e.AgentToken, mergePath(ok1), map[string]any{"user": map[string]any{"id": "abc"}}, 400, ""},
			{"ErrMissingIDPreview", e.AgentToken, previewPath(ok1), map[string]any{"user": nil}, 400, "ParameterMissing"},
			{"ErrUnknownTarget", e.AgentToken, mergePath(ok1), target(999999), 404, "RecordNotFound"},
			{"ErrUnknownSource", e.AgentToken, mergePath(999999), target(ok1), 404, "RecordNotFound"},
			{"ErrUnknownPreview", e.AgentToken, previewPath(999999), target(ok1), 404, "RecordNotFound"},
			{"ErrMissingBeforeUnknown", e.AgentToken, mergePath(999999), map[string]any{}, 400, "ParameterMissing"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, m := e.Do("PUT", tc.path, tc.token, tc.body)
				if strings.HasSuffix(tc.path, "merge_preview") || strings.HasSuffix(tc.path, "merge_many") {
					status, m = e.Do("POST", tc.path, tc.token, tc.body)
				}
				if status != tc.status || (tc.code != "" && m["error"] != tc.code) {
					t.Errorf("= %d %v, want %d %s", status, m, tc.status, tc.code)
				}
			})
		}
		sameDump(t, "refused merges and previews", before, dumpAll(t, raw))

		// The boundary cases that pass: unverified with only X; verified without email.
		e.Must(http.StatusOK, "PUT", "/account/settings", map[string]any{"settings": map[string]any{"sso": map[string]any{"saml": map[string]any{"enabled": false}}}})
		e.mustStatus(http.StatusOK, e.AgentToken, "PUT", mergePath(xOnly), target(verifiedFB))
		e.mustStatus(http.StatusOK, e.AgentToken, "PUT", mergePath(ext), target(ok1)) // external ids without SSO
	})
}

// identityRow is an identity as the rules see it.
type identityRow struct {
	ID       int64
	Type     string
	Value    string
	Verified bool
	Primary  bool
}

func identitiesOf(t *testing.T, e *env, userID int64) []identityRow {
	t.Helper()
	list := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/identities", userID), nil)["identities"].([]any)
	out := []identityRow{}
	for _, x := range list {
		m := x.(map[string]any)
		out = append(out, identityRow{ID: id(t, m), Type: m["type"].(string), Value: m["value"].(string),
			Verified: m["verified"] == true, Primary: m["primary"] == true})
	}
	return out
}

func membershipsOf(t *testing.T, e *env, userID int64) (orgs []int64, def int64) {
	t.Helper()
	list := e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d/organization_memberships", userID), nil)["organization_memberships"].([]any)
	for _, x := range list {
		m := x.(map[string]any)
		o := int64(m["organization_id"].(float64))
		orgs = append(orgs, o)
		if m["default"] == true {
			if def != 0 {
				t.Errorf("user %d has two default memberships", userID)
			}
			def = o
		}
	}
	slices.Sort(orgs)
	return orgs, def
}

// TestMergeDataRules has one case per row of the rules table (M13–M28): each
// merges a fresh pair and checks the target's profile, identities and
// memberships, and the general identity rules (ids and verified kept, exactly one
// primary per type, nothing left on the source, nothing duplicated).
func TestMergeDataRules(t *testing.T) {
	eachMergeDB(t, func(t *testing.T, e *env, _ *sql.DB) {
		orgA, orgB, orgC := e.createOrg("Org A", nil), e.createOrg("Org B", nil), e.createOrg("Org C", nil)
		setMulti := func(on bool) {
			e.Must(http.StatusOK, "PUT", "/account/settings", map[string]any{"settings": map[string]any{"users": map[string]any{"multiple_organizations": on}}})
		}
		join := func(user, org int64) {
			e.Must(http.StatusCreated, "POST", "/organization_memberships", map[string]any{"organization_membership": map[string]any{"user_id": user, "organization_id": org}})
		}
		type check func(t *testing.T, got map[string]any, ids []identityRow, src, dst int64)
		value := func(field string, want any) check {
			return func(t *testing.T, got map[string]any, _ []identityRow, _, _ int64) {
				if fmt.Sprint(got[field]) != fmt.Sprint(want) {
					t.Errorf("target %s = %v, want %v", field, got[field], want)
				}
			}
		}
		primary := func(typ, want string) check {
			return func(t *testing.T, _ map[string]any, ids []identityRow, _, _ int64) {
				for _, id := range ids {
					if id.Type == typ && id.Primary && id.Value != want {
						t.Errorf("primary %s = %s, want %s", typ, id.Value, want)
					}
				}
			}
		}
		secondary := func(typ string, values ...string) check {
			return func(t *testing.T, _ map[string]any, ids []identityRow, _, _ int64) {
				var got []string
				for _, id := range ids {
					if id.Type == typ && !id.Primary {
						got = append(got, id.Value)
					}
				}
				slices.Sort(got)
				slices.Sort(values)
				if !slices.Equal(got, values) {
					t.Errorf("secondary %s = %v, want %v", typ, got, values)
				}
			}
		}
		orgs := func(def int64, all ...int64) check {
			return func(t *testing.T, _ map[string]any, _ []identityRow, _, dst int64) {
				got, gotDef := membershipsOf(t, e, dst)
				slices.Sort(all)
				if !slices.Equal(got, all) || gotDef != def {
					t.Errorf("target organizations %v default %d, want %v default %d", got, gotDef, all, def)
				}
			}
		}
		for i, tc := range []struct {
			name     string
			multi    bool
			src, dst map[string]any
			setup    func(src, dst int64)
			checks   []check
		}{
			{name: "M13PhoneAddedAsSecondary",
				src: map[string]any{"phone": "(415) 555-0101", "email": "%s-s@example.com", "identities": []any{map[string]any{"type": "phone_number", "value": "+1 415 555 0103"}}},
				dst: map[string]any{"phone": "+14155550102", "email": "%s-t@example.com"},
				checks: []check{value("phone", "+14155550102"), value("shared_phone_number", false), primary("phone_number", "+14155550102"),
					secondary("phone_number", "+14155550101", "+14155550103")}},
			{name: "M14DirectLineUnchanged",
				src:    map[string]any{"phone": "+14155550201", "email": "%s-s@example.com"},
				dst:    map[string]any{"phone": "+14155550202", "email": "%s-t@example.com", "identities": []any{map[string]any{"type": "phone_number", "value": "+14155550203"}}},
				checks: []check{value("phone", "+14155550202"), secondary("phone_number", "+14155550201", "+14155550203")}},
			{name: "M14TargetWithoutPhoneTakesSourcePrimary",
				src:    map[string]any{"phone": "+14155550301", "email": "%s-s@example.com", "identities": []any{map[string]any{"type": "phone_number", "value": "+14155550302"}}},
				dst:    map[string]any{"email": "%s-t@example.com", "phone": "+14155550399", "shared_phone_number": true},
				checks: []check{value("phone", "+14155550301"), value("shared_phone_number", false), primary("phone_number", "+14155550301"), secondary("phone_number", "+14155550302")}},
			{name: "M15PrimaryEmailUnchanged",
				src: map[string]any{"email": "%s-s@example.com"}, dst: map[string]any{"email": "%s-t@example.com"},
				checks: []check{value("email", "m15primaryemailunchanged-t@example.com"), primary("email", "m15primaryemailunchanged-t@example.com"),
					secondary("email", "m15primaryemailunchanged-s@example.com")}},
			{name: "M15TargetWithoutEmailTakesSourcePrimary",
				src:    map[string]any{"email": "%s-s@example.com", "identities": []any{map[string]any{"type": "email", "value": "%s-s2@example.com"}}},
				dst:    map[string]any{"verified": true, "identities": []any{map[string]any{"type": "twitter", "value": "%s_t"}}},
				checks: []check{value("email", "m15targetwithoutemailtakessourceprimary-s@example.com"), secondary("email", "m15targetwithoutemailtakessourceprimary-s2@example.com")}},
			{name: "M16SecondaryEmails",
				src: map[string]any{"email": "%s-s1@example.com", "identities": []any{map[string]any{"type": "email", "value": "%s-s2@example.com"}, map[string]any{"type": "email", "value": "%s-s3@example.com", "verified": true}}},
				dst: map[string]any{"email": "%s-t1@example.com", "identities": []any{map[string]any{"type": "email", "value": "%s-t2@example.com"}}},
				checks: []check{value("email", "m16secondaryemails-t1@example.com"),
					secondary("email", "m16secondaryemails-t2@example.com", "m16secondaryemails-s1@example.com", "m16secondaryemails-s2@example.com", "m16secondaryemails-s3@example.com")}},
			{name: "M17LocaleKept",
				src: map[string]any{"email": "%s-s@example.com", "locale": "de"}, dst: map[string]any{"email": "%s-t@example.com", "locale": "fr"},
				checks: []check{value("locale", "fr"), value("locale_id", 16)}},
			{name: "M18TimeZoneKept",
				src: map[string]any{"email": "%s-s@example.com", "time_zone": "Berlin"}, dst: map[string]any{"email": "%s-t@example.com"},
				checks: []check{value("time_zone", "UTC")}},
			{name: "M19SingleTargetWithOrganization",
				src: map[string]any{"email": "%s-s@example.com", "organization_id": orgA}, dst: map[string]any{"email": "%s-t@example.com", "organization_id": orgB},
				checks: []check{value("organization_id", orgB), orgs(orgB, orgB)}},
			{name: "M19SingleTargetWithoutOrganization",
				src: map[string]any{"email": "%s-s@example.com", "organization_id": orgA}, dst: map[string]any{"email": "%s-t@example.com"},
				checks: []check{value("organization_id", orgA), orgs(orgA, orgA)}},
			{name: "M19SingleSourceWithSeveral", // memberships from a time the setting was on
				src: map[string]any{"email": "%s-s@example.com", "organization_id": orgA}, dst: map[string]any{"email": "%s-t@example.com"},
				setup:  func(src, dst int64) { setMulti(true); join(src, orgB); setMulti(false) },
				checks: []check{value("organization_id", orgA), orgs(orgA, orgA)}},
			{name: "M19MultipleUnion", multi: true,
				src: map[string]any{"email": "%s-s@example.com", "organization_id": orgA}, dst: map[string]any{"email": "%s-t@example.com", "organization_id": orgC},
				setup:  func(src, dst int64) { join(src, orgB); join(src, orgC) },
				checks: []check{value("organization_id", orgC), orgs(orgC, orgA, orgB, orgC)}},
			{name: "M19MultipleTargetWithout", multi: true,
				src: map[string]any{"email": "%s-s@example.com", "organization_id": orgB}, dst: map[string]any{"email": "%s-t@example.com"},
				setup:  func(src, dst int64) { join(src, orgA) },
				checks: []check{value("organization_id", orgB), orgs(orgB, orgA, orgB)}},
			{name: "M20TagsLost",
				src: map[string]any{"email": "%s-s@example.com", "tags": []string{"vip", "gold"}}, dst: map[string]any{"email": "%s-t@example.com", "tags": []string{"basic"}},
				checks: []check{value("tags", []string{"basic"})}},
			{name: "M21DetailsLost",
				src: map[string]any{"email": "%s-s@example.com", "details": "source details"}, dst: map[string]any{"email": "%s-t@example.com"},
				checks: []check{value("details", nil)}},
			{name: "M22NotesLost",
				src: map[string]any{"email": "%s-s@example.com", "notes": "source notes"}, dst: map[string]any{"email": "%s-t@example.com", "notes": "target notes"},
				checks: []check{value("notes", "target notes")}},
			{name: "M23PhotoKept",
				src: map[string]any{"email": "%s-s@example.com", "remote_photo_url": "https://img.example/s.png"}, dst: map[string]any{"email": "%s-t@example.com", "remote_photo_url": "https://img.example/t.png"},
				checks: []check{func(t *testing.T, got map[string]any, _ []identityRow, _, _ int64) {
					if p, _ := got["photo"].(map[string]any); p == nil || p["content_url"] != "https://img.example/t.png" {
						t.Errorf("photo = %v", got["photo"])
					}
				}}},
			{name: "M23PhotoOnlySourceLost",
				src: map[string]any{"email": "%s-s@example.com", "remote_photo_url": "https://img.example/s.png"}, dst: map[string]any{"email": "%s-t@example.com"},
				checks: []check{value("photo", nil)}},
			{name: "M24UserFieldsLost",
				src: map[string]any{"email": "%s-s@example.com", "user_fields": map[string]any{"plan": "gold", "vip": true}}, dst: map[string]any{"email": "%s-t@example.com", "user_fields": map[string]any{"plan": "basic"}},
				checks: []check{value("user_fields", map[string]any{"plan": "basic"})}},
			{name: "M25ExternalIDLost",
				src: map[string]any{"email": "%s-s@example.com", "external_id": "%s-crm"}, dst: map[string]any{"email": "%s-t@example.com"},
				checks: []check{value("external_id", nil), func(t *testing.T, _ map[string]any, _ []identityRow, src, dst int64) {
					// The external id is free again (M25: lost from the live profile).
					got := e.Must(http.StatusOK, "GET", "/users?external_id=m25externalidlost-crm", nil)["users"].([]any)
					if len(got) != 0 {
						t.Errorf("external id still used by %v", got)
					}
				}}},
			{name: "M26HelpCenterStaysOnSource",
				src: map[string]any{"email": "%s-s@example.com"}, dst: map[string]any{"email": "%s-t@example.com"},
				setup: func(src, dst int64) {
					post := id(t, obj(t, e.Must(http.StatusCreated, "POST", "/community/posts", map[string]any{"post": map[string]any{"title": "Dark mode?", "details": "Please.", "author_id": src}}), "post"))
					e.Must(http.StatusCreated, "POST", fmt.Sprintf("/community/posts/%d/comments", post), map[string]any{"comment": map[string]any{"body": "+1", "author_id": src}})
					e.Must(http.StatusCreated, "POST", fmt.Sprintf("/community/posts/%d/up", post), map[string]any{"vote": map[string]any{"user_id": src}})
					e.Must(http.StatusCreated, "POST", fmt.Sprintf("/community/posts/%d/subscriptions", post), map[string]any{"subscription": map[string]any{"user_id": src}})
				},
				checks: []check{func(t *testing.T, _ map[string]any, _ []identityRow, src, dst int64) {
					for _, kind := range []string{"posts", "comments"} {
						if got := e.Must(http.StatusOK, "GET", fmt.Sprintf("/community/users/%d/%s", src, kind), nil)[kind].([]any); len(got) != 1 {
							t.Errorf("source %s = %v, want 1", kind, got)
						}
						if got := e.Must(http.StatusOK, "GET", fmt.Sprintf("/community/users/%d/%s", dst, kind), nil)[kind].([]any); len(got) != 0 {
							t.Errorf("target %s = %v, want none", kind, got)
						}
					}
					posts := e.Must(http.StatusOK, "GET", fmt.Sprintf("/community/users/%d/posts", src), nil)["posts"].([]any)
					pid := id(t, posts[0].(map[string]any))
					for _, kind := range []string{"votes", "subscriptions"} {
						list := e.Must(http.StatusOK, "GET", fmt.Sprintf("/community/posts/%d/%s", pid, kind), nil)[kind].([]any)
						if len(list) != 1 || list[0].(map[string]any)["user_id"] != float64(src) {
							t.Errorf("%s = %v, want the source's", kind, list)
						}
					}
				}}},
			{name: "M27OtherIdentitiesMove",
				src: map[string]any{"email": "%s-s@example.com", "identities": []any{
					map[string]any{"type": "twitter", "value": "%s_x"}, map[string]any{"type": "facebook", "value": "%s-fb", "verified": true},
					map[string]any{"type": "google", "value": "%s@gmail.example"}, map[string]any{"type": "messaging", "value": "%s-wa"},
					map[string]any{"type": "sdk", "value": "%s-sdk"}, map[string]any{"type": "any_channel", "value": "%s-any"}}},
				dst: map[string]any{"email": "%s-t@example.com", "identities": []any{map[string]any{"type": "twitter", "value": "%s_tx"}}},
				checks: []check{primary("twitter", "m27otheridentitiesmove_tx"), secondary("twitter", "m27otheridentitiesmove_x"),
					primary("facebook", "m27otheridentitiesmove-fb"), primary("messaging", "m27otheridentitiesmove-wa")}},
			{name: "M28NoDuplicateIdentity",
				src: map[string]any{"email": "%s-S@Example.com", "phone": "+1 (415) 555-0401"}, dst: map[string]any{"email": "%s-t@example.com"},
				checks: []check{func(t *testing.T, _ map[string]any, ids []identityRow, src, dst int64) {
					seen := map[string]bool{}
					for _, id := range ids {
						k := id.Type + ":" + strings.ToLower(id.Value)
						if seen[k] {
							t.Errorf("duplicate identity %s", k)
						}
						seen[k] = true
					}
					for _, body := range []map[string]any{{"email": "M28NODUPLICATEIDENTITY-s@example.com"}, {"phone": "415-555-0401"}} {
						body["name"] = "Copy"
						if st, m := e.Do("POST", "/users", e.AdminToken, map[string]any{"user": body}); st != 422 {
							t.Errorf("a new user with a moved value %v = %d %v, want 422", body, st, m)
						}
					}
				}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				setMulti(tc.multi)
				key := strings.ToLower(tc.name)
				fill := func(m map[string]any, name string) map[string]any {
					b, _ := json.Marshal(m)
					s := strings.ReplaceAll(string(b), "%s", key)
					var out map[string]any
					json.Unmarshal([]byte(s), &out)
					out["name"] = name
					return out
				}
				src := mkUserID(t, e, fill(tc.src, fmt.Sprintf("Source %d", i)))
				dst := mkUserID(t, e, fill(tc.dst, fmt.Sprintf("Target %d", i)))
				if tc.setup != nil {
					tc.setup(src, dst)
				}
				before := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", dst), nil), "user")
				srcIDs, dstIDs := identitiesOf(t, e, src), identitiesOf(t, e, dst)
				got := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "PUT", mergePath(src), target(dst)), "user")
				if id(t, got) != dst {
					t.Fatalf("merge returned user %v, want the target", got["id"])
				}
				// The target's own profile: unchanged except what the rules add.
				for _, f := range []string{"name", "role", "locale", "time_zone", "tags", "details", "notes", "user_fields", "external_id", "photo", "alias", "created_at"} {
					if fmt.Sprint(got[f]) != fmt.Sprint(before[f]) {
						t.Errorf("target %s = %v, was %v", f, got[f], before[f])
					}
				}
				ids := identitiesOf(t, e, dst)
				// Every identity of both is on the target, with its id and verified state.
				byID := map[int64]identityRow{}
				for _, id := range ids {
					byID[id.ID] = id
				}
				if len(ids) != len(srcIDs)+len(dstIDs) {
					t.Errorf("target has %d identities, want %d + %d", len(ids), len(dstIDs), len(srcIDs))
				}
				for _, want := range append(slices.Clone(dstIDs), srcIDs...) {
					g, ok := byID[want.ID]
					if !ok || g.Value != want.Value || g.Verified != want.Verified || g.Type != want.Type {
						t.Errorf("identity %+v is now %+v", want, g)
					}
				}
				for _, want := range dstIDs {
					if byID[want.ID].Primary != want.Primary {
						t.Errorf("target identity %+v changed primary", want)
					}
				}
				perType := map[string]int{}
				for _, id := range ids {
					if id.Primary {
						perType[id.Type]++
					}
				}
				for _, id := range ids {
					if perType[id.Type] != 1 {
						t.Errorf("type %s has %d primaries", id.Type, perType[id.Type])
					}
				}
				if left := identitiesOf(t, e, src); len(left) != 0 {
					t.Errorf("source still owns %v", left)
				}
				if m, _ := membershipsOf(t, e, src); len(m) != 0 {
					t.Errorf("source is still a member of %v", m)
				}
				for _, c := range tc.checks {
					c(t, got, ids, src, dst)
				}
				// GET agrees with the merge response.
				again := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", dst), nil), "user")
				if a, b := jsonOf(again), jsonOf(got); a != b {
					t.Errorf("GET target = %s\nmerge returned %s", a, b)
				}
			})
		}
	})
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// mergeAudits returns the ticket's audits written by merges.
func mergeAudits(t *testing.T, e *env, ticket int64) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, x := range e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d/audits", ticket), nil)["audits"].([]any) {
		a := x.(map[string]any)
		if v, _ := a["via"].(map[string]any); v["channel"] == "user_merge" {
			out = append(out, a)
		}
	}
	return out
}

// TestMergeTickets proves M9–M12 and the exact audit of docs/api.md §7.1.
func TestMergeTickets(t *testing.T) {
	eachMergeDB(t, func(t *testing.T, e *env, _ *sql.DB) {
		org := e.createOrg("Source Org", nil)
		src := mkUserID(t, e, map[string]any{"name": "Src", "email": "src@example.com", "organization_id": org})
		dst := mkUserID(t, e, map[string]any{"name": "Dst", "email": "dst@example.com"})
		oth := mkUserID(t, e, map[string]any{"name": "Oth", "email": "oth@example.com"})
		oth2 := mkUserID(t, e, map[string]any{"name": "Oth2", "email": "oth2@example.com"})
		imp := func(req int64, ccs ...int64) int64 {
			return id(t, obj(t, e.Must(http.StatusCreated, "POST", "/imports/tickets?archive_immediately=true", map[string]any{"ticket": map[string]any{
				"subject": "old", "requester_id": req, "status": "closed", "collaborators": ccs,
				"comments": []any{map[string]any{"author_id": req, "value": "history"}}}}), "ticket"))
		}
		closed := mkTicket(t, e, map[string]any{"subject": "closed", "requester_id": src, "collaborators": []any{oth}})
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/tickets/%d", closed), map[string]any{"ticket": map[string]any{"status": "closed"}})
		type want struct {
			requester int64
			ccs       []int64
			change    bool    // a requester Change event
			ccChange  []int64 // the expected previous CCs, nil: no EmailCcChange event
			audit     bool
		}
		cases := map[int64]want{
			mkTicket(t, e, map[string]any{"subject": "src, ccs oth+dst", "requester_id": src, "collaborators": []any{oth, dst}}): {dst, []int64{oth}, true, []int64{oth, dst}, true},
			mkTicket(t, e, map[string]any{"subject": "src, no ccs", "requester_id": src}):                                        {dst, nil, true, nil, true},
			mkTicket(t, e, map[string]any{"subject": "oth, cc src", "requester_id": oth, "collaborators": []any{src, oth2}}):     {oth, []int64{dst, oth2}, false, []int64{src, oth2}, true},
			mkTicket(t, e, map[string]any{"subject": "oth, cc src+dst", "requester_id": oth, "collaborators": []any{src, dst}}):  {oth, []int64{dst}, false, []int64{src, dst}, true},
			mkTicket(t, e, map[string]any{"subject": "dst, cc src", "requester_id": dst, "collaborators": []any{src, oth}}):      {dst, []int64{oth}, false, []int64{src, oth}, true},
			mkTicket(t, e, map[string]any{"subject": "oth, cc dst only", "requester_id": oth, "collaborators": []any{dst}}):      {oth, []int64{dst}, false, nil, false},
			closed:             {dst, []int64{oth}, true, nil, true},
			imp(src, oth, dst): {dst, []int64{oth, dst}, true, nil, true}, // archived: CCs kept
			imp(oth, src):      {oth, []int64{src}, false, nil, false},    // archived, only CC'd: untouched
			imp(src):           {dst, nil, true, nil, true},
		}
		orgBefore := map[int64]any{}
		for tid := range cases {
			orgBefore[tid] = obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d", tid), nil), "ticket")["organization_id"]
		}
		p := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", previewPath(src), target(dst)), "merge_preview")
		if got := jsonOf(p["tickets"]); got != `{"archived":2,"ccd":4,"requested":5}` {
			t.Errorf("preview tickets = %s, want requested 5, archived 2, ccd 4", got)
		}
		e.mustStatus(http.StatusOK, e.AgentToken, "PUT", mergePath(src), target(dst))
		recs := e.Must(http.StatusOK, "GET", "/user_merges", nil)["user_merges"].([]any)
		rec := recs[0].(map[string]any)
		if rec["tickets_moved"] != 5.0 || rec["ccs_moved"] != 4.0 {
			t.Errorf("record counts = %v tickets, %v ccs; want 5, 4", rec["tickets_moved"], rec["ccs_moved"])
		}
		mergeID := id(t, rec)
		str := func(ids []int64) []any {
			out := []any{}
			for _, x := range ids {
				out = append(out, fmt.Sprint(x))
			}
			return out
		}
		for tid, w := range cases {
			tk := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/tickets/%d", tid), nil), "ticket")
			gotCCs := ids(t, tk["email_cc_ids"])
			slices.Sort(gotCCs)
			wantCCs := slices.Sorted(slices.Values(w.ccs))
			if tk["requester_id"] != float64(w.requester) || !slices.Equal(gotCCs, wantCCs) && !(len(gotCCs) == 0 && len(wantCCs) == 0) {
				t.Errorf("ticket %d (%s): requester %v ccs %v, want %d %v", tid, tk["subject"], tk["requester_id"], gotCCs, w.requester, wantCCs)
			}
			if tk["organization_id"] != orgBefore[tid] {
				t.Errorf("ticket %d organization %v, was %v (M12)", tid, tk["organization_id"], orgBefore[tid])
			}
			audits := mergeAudits(t, e, tid)
			if !w.audit {
				if len(audits) != 0 {
					t.Errorf("ticket %d (%s) got merge audits %v", tid, tk["subject"], audits)
				}
				continue
			}
			if len(audits) != 1 {
				t.Fatalf("ticket %d (%s) has %d merge audits, want exactly 1", tid, tk["subject"], len(audits))
			}
			a := audits[0]
			wantVia := fmt.Sprintf(`{"channel":"user_merge","source":{"from":{"user_id":%d},"rel":"user_merge","to":{"user_id":%d}}}`, src, dst)
			if got := jsonOf(a["via"]); got != wantVia {
				t.Errorf("ticket %d audit via = %s, want %s", tid, got, wantVia)
			}
			if got, want := jsonOf(a["metadata"]), fmt.Sprintf(`{"custom":{"user_merge_id":%d},"system":{}}`, mergeID); got != want {
				t.Errorf("ticket %d audit metadata = %s, want %s", tid, got, want)
			}
			if a["author_id"] != float64(e.Agent.ID) || a["ticket_id"] != float64(tid) {
				t.Errorf("ticket %d audit author %v ticket %v", tid, a["author_id"], a["ticket_id"])
			}
			var wantEvents []string
			if w.change {
				wantEvents = append(wantEvents, jsonOf(map[string]any{"type": "Change", "field_name": "requester_id",
					"value": fmt.Sprint(dst), "previous_value": fmt.Sprint(src)}))
			}
			if w.ccChange != nil {
				prev := slices.Sorted(slices.Values(w.ccChange))
				wantEvents = append(wantEvents, jsonOf(map[string]any{"type": "EmailCcChange",
					"previous_email_ccs": str(prev), "current_email_ccs": str(wantCCs)}))
			}
			var gotEvents []string
			for _, x := range a["events"].([]any) {
				ev := x.(map[string]any)
				if _, ok := ev["id"].(float64); !ok {
					t.Errorf("event without id: %v", ev)
				}
				delete(ev, "id")
				if ev["type"] == "EmailCcChange" {
					for _, k := range []string{"previous_email_ccs", "current_email_ccs"} {
						l := ev[k].([]any)
						slices.SortFunc(l, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
					}
				}
				gotEvents = append(gotEvents, jsonOf(ev))
			}
			if !slices.Equal(gotEvents, wantEvents) {
				t.Errorf("ticket %d (%s) events:\n got %v\nwant %v", tid, tk["subject"], gotEvents, wantEvents)
			}
		}
	})
}

// TestMergeSourceAfterwards proves M29.
func TestMergeSourceAfterwards(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		org := e.createOrg("Zorg", nil)
		src := mkUserID(t, e, map[string]any{"name": "Quixote Source", "email": "quix@example.com", "phone": "+14155550501",
			"external_id": "quix-1", "organization_id": org,
			"identities": []any{map[string]any{"type": "email", "value": "quix2@example.com"}}})
		dst := mkUserID(t, e, map[string]any{"name": "Dulcinea Target", "email": "dulc@example.com"})
		e.mustStatus(http.StatusOK, e.AgentToken, "PUT", mergePath(src), target(dst))

		s := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", src), nil), "user")
		if s["active"] != false || s["merged_into_id"] != float64(dst) {
			t.Errorf("source = active %v merged_into_id %v", s["active"], s["merged_into_id"])
		}
		for _, f := range []string{"email", "phone", "external_id", "organization_id"} {
			if s[f] != nil {
				t.Errorf("source %s = %v, want null", f, s[f])
			}
		}
		if ids := identitiesOf(t, e, src); len(ids) != 0 {
			t.Errorf("source identities = %v", ids)
		}
		listed := func(path, key string) bool {
			for _, x := range e.Must(http.StatusOK, "GET", path, nil)[key].([]any) {
				m := x.(map[string]any)
				if m["result_type"] != nil && m["result_type"] != "user" {
					continue
				}
				if id(t, m) == src {
					return true
				}
			}
			return false
		}
		for _, c := range []struct{ path, key string }{
			{"/users?per_page=100", "users"},
			{"/users/search?query=Quixote", "users"},
			{"/users/search?query=quix@example.com", "users"},
			{"/search?query=Quixote", "results"},
			{"/search?query=type:user%20Quixote", "results"},
			{"/users/autocomplete?name=Quix", "users"},
			{fmt.Sprintf("/users/show_many?ids=%d,%d", src, dst), "users"},
			{fmt.Sprintf("/organizations/%d/users", org), "users"},
		} {
			if listed(c.path, c.key) {
				t.Errorf("%s lists the merged source", c.path)
			}
		}
		if !listed("/deleted_users", "deleted_users") {
			t.Errorf("/deleted_users does not list the source")
		}
		d := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/deleted_users/%d", src), nil), "deleted_user")
		if d["merged_into_id"] != float64(dst) || d["active"] != false {
			t.Errorf("deleted user = %v", d)
		}
		if d["email"] != "quix@example.com" || d["phone"] != "+14155550501" || d["organization_id"] != float64(org) {
			t.Errorf("deleted user lost the values it had before the merge (docs/api.md §2.3): %v", d)
		}
		// New interactions from former identities land on the target.
		for _, email := range []string{"quix@example.com", "QUIX2@example.com"} {
			tk := obj(t, e.Must(http.StatusCreated, "POST", "/tickets", map[string]any{"ticket": map[string]any{
				"subject": "again", "comment": map[string]any{"body": "hi"}, "requester": map[string]any{"name": "Quixote", "email": email}}}), "ticket")
			if tk["requester_id"] != float64(dst) {
				t.Errorf("ticket from %s has requester %v, want the target %d", email, tk["requester_id"], dst)
			}
		}
		// Writes that would use the source are refused.
		if st, m := e.Do("PUT", fmt.Sprintf("/users/%d", src), e.AgentToken, map[string]any{"user": map[string]any{"name": "x"}}); st != 422 || detailCode(m, "user") != "UserInactive" && !strings.Contains(jsonOf(m), "UserInactive") {
			t.Errorf("update of merged user = %d %v", st, m)
		}
		if st, m := e.Do("POST", "/tickets", e.AgentToken, map[string]any{"ticket": map[string]any{"requester_id": src, "comment": map[string]any{"body": "x"}}}); st != 422 || !strings.Contains(jsonOf(m), "UserInactive") {
			t.Errorf("ticket for merged user = %d %v", st, m)
		}
	})
}

// TestUserMergeRecords proves M30 and docs/api.md §12.5.
func TestUserMergeRecords(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		org := e.createOrg("Rec Org", nil)
		a := mkUserID(t, e, map[string]any{"name": "A", "email": "a@example.com", "phone": "+14155550601", "tags": []string{"vip"},
			"notes": "n", "details": "d", "external_id": "crm-a", "user_fields": map[string]any{"plan": "gold"}, "organization_id": org,
			"identities": []any{map[string]any{"type": "twitter", "value": "a_x"}}})
		b := mkUserID(t, e, map[string]any{"name": "B", "email": "b@example.com"})
		c := mkUserID(t, e, map[string]any{"name": "C", "email": "c@example.com"})
		d := mkUserID(t, e, map[string]any{"name": "D", "email": "d@example.com"})
		f := mkUserID(t, e, map[string]any{"name": "F", "email": "f@example.com"})
		mkTicket(t, e, map[string]any{"requester_id": a, "collaborators": []any{b}})
		mkTicket(t, e, map[string]any{"requester_id": c, "collaborators": []any{a}})
		aIDs := identitiesOf(t, e, a)
		e.mustStatus(http.StatusOK, e.AgentToken, "PUT", mergePath(a), target(b))
		e.Must(http.StatusOK, "PUT", mergePath(c), target(d))
		e.Must(http.StatusOK, "PUT", mergePath(f), target(b))

		for _, p := range []string{"/user_merges", "/user_merges/1"} {
			if st, _ := e.Do("GET", p, e.AgentToken, nil); st != http.StatusForbidden {
				t.Errorf("agent GET %s = %d, want 403", p, st)
			}
		}
		all := e.Must(http.StatusOK, "GET", "/user_merges", nil)
		list := all["user_merges"].([]any)
		var order []int64
		for _, x := range list {
			order = append(order, int64(x.(map[string]any)["source_id"].(float64)))
		}
		if !slices.Equal(order, []int64{f, c, a}) || all["count"] != 3.0 {
			t.Errorf("user_merges sources = %v count %v, want newest first %v", order, all["count"], []int64{f, c, a})
		}
		filtered := e.Must(http.StatusOK, "GET", fmt.Sprintf("/user_merges?user_id=%d", b), nil)["user_merges"].([]any)
		if len(filtered) != 2 {
			t.Errorf("user_id=%d lists %d records, want 2", b, len(filtered))
		}
		if got := e.Must(http.StatusOK, "GET", fmt.Sprintf("/user_merges?user_id=%d", c), nil)["user_merges"].([]any); len(got) != 1 {
			t.Errorf("filter by source lists %d, want 1", len(got))
		}
		// Offset paging.
		p1 := e.Must(http.StatusOK, "GET", "/user_merges?per_page=2", nil)
		if len(p1["user_merges"].([]any)) != 2 || p1["next_page"] == nil {
			t.Errorf("page 1 = %v", p1)
		}
		p2 := e.Must(http.StatusOK, "GET", "/user_merges?per_page=2&page=2", nil)
		if l := p2["user_merges"].([]any); len(l) != 1 || id(t, l[0].(map[string]any)) != id(t, list[2].(map[string]any)) || p2["next_page"] != nil {
			t.Errorf("page 2 = %v", p2)
		}
		// Cursor paging.
		var cursorOrder []int64
		path := "/user_merges?page[size]=2"
		for range 5 {
			pg := e.Must(http.StatusOK, "GET", path, nil)
			for _, x := range pg["user_merges"].([]any) {
				cursorOrder = append(cursorOrder, int64(x.(map[string]any)["source_id"].(float64)))
			}
			meta := pg["meta"].(map[string]any)
			if meta["has_more"] != true {
				break
			}
			path = "/user_merges?page[size]=2&page[after]=" + meta["after_cursor"].(string)
		}
		if !slices.Equal(cursorOrder, order) {
			t.Errorf("cursor paging = %v, want %v", cursorOrder, order)
		}

		rec := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/user_merges/%d", id(t, list[2].(map[string]any))), nil), "user_merge")
		if rec["actor_id"] != float64(e.Agent.ID) || rec["source_id"] != float64(a) || rec["target_id"] != float64(b) ||
			rec["tickets_moved"] != 1.0 || rec["ccs_moved"] != 2.0 || rec["created_at"] == nil || !strings.HasSuffix(rec["url"].(string), fmt.Sprintf("/user_merges/%d.json", id(t, rec))) {
			t.Errorf("record = %v", rec)
		}
		// identities_moved: as they now are on the target.
		now := map[int64]identityRow{}
		for _, x := range identitiesOf(t, e, b) {
			now[x.ID] = x
		}
		moved := rec["identities_moved"].([]any)
		if len(moved) != len(aIDs) {
			t.Errorf("identities_moved = %v, want %d", moved, len(aIDs))
		}
		for _, x := range moved {
			m := x.(map[string]any)
			cur := now[id(t, m)]
			if cur.Value != m["value"] || cur.Type != m["type"] || cur.Primary != m["primary"] {
				t.Errorf("identities_moved %v, on the target %+v", m, cur)
			}
		}
		fields := map[string]string{}
		for _, x := range rec["fields"].([]any) {
			m := x.(map[string]any)
			fields[m["field"].(string)] = m["outcome"].(string)
		}
		for f, w := range map[string]string{"tags": "lost", "notes": "lost", "details": "lost", "external_id": "lost", "user_fields": "lost",
			"email": "kept", "emails": "added", "phone": "added", "identities": "moved", "organization_id": "added"} {
			if fields[f] != w {
				t.Errorf("record field %s = %q, want %q", f, fields[f], w)
			}
		}
		snap := rec["source_snapshot"].(map[string]any)
		su := snap["user"].(map[string]any)
		if jsonOf(su["tags"]) != `["vip"]` || su["notes"] != "n" || su["details"] != "d" || su["external_id"] != "crm-a" ||
			jsonOf(su["user_fields"]) != `{"plan":"gold"}` || su["iana_time_zone"] != "Etc/UTC" || su["email"] != "a@example.com" || su["phone"] != "+14155550601" || su["id"] != float64(a) {
			t.Errorf("snapshot user = %v", su)
		}
		if jsonOf(snap["organization_ids"]) != fmt.Sprintf("[%d]", org) || len(snap["identities"].([]any)) != len(aIDs) {
			t.Errorf("snapshot = %v", snap)
		}
		if st, _ := e.Do("GET", "/user_merges/999999", e.AdminToken, nil); st != 404 {
			t.Errorf("unknown record = %d", st)
		}
	})
}

// TestMergePreview proves M31: shape, order of fields, no writes, and the 409 of
// a stale version.
func TestMergePreview(t *testing.T) {
	eachMergeDB(t, func(t *testing.T, e *env, raw *sql.DB) {
		src := mkUserID(t, e, map[string]any{"name": "Ann Lee", "email": "ann@example.com", "phone": "+14155550101", "tags": []string{"vip"}})
		dst := mkUserID(t, e, map[string]any{"name": "Ann Lee", "email": "ann.lee@corp.example"})
		agent := e.Agent.ID
		mkTicket(t, e, map[string]any{"requester_id": src})

		e.settle(t)
		before := dumpAll(t, raw)
		p := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", previewPath(src)+".json", target(dst)), "merge_preview")
		blocked := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", previewPath(src), target(agent)), "merge_preview")
		sameDump(t, "a preview", before, dumpAll(t, raw))

		if p["source_id"] != float64(src) || p["target_id"] != float64(dst) || p["eligible"] != true || jsonOf(p["blockers"]) != "[]" {
			t.Errorf("preview = %v", p)
		}
		if v, _ := p["version"].(string); v == "" {
			t.Errorf("version = %v", p["version"])
		}
		type row struct{ Field, Rule, Outcome, Source, Target string }
		var got []row
		for _, x := range p["fields"].([]any) {
			m := x.(map[string]any)
			got = append(got, row{m["field"].(string), m["rule"].(string), m["outcome"].(string), jsonOf(m["source_value"]), jsonOf(m["target_value"])})
		}
		want := []row{
			{"name", "", "unchanged", `"Ann Lee"`, `"Ann Lee"`},
			{"email", "M15", "kept", `"ann@example.com"`, `"ann.lee@corp.example"`},
			{"emails", "M16", "added", `["ann@example.com"]`, `["ann.lee@corp.example"]`},
			{"phone", "M14", "added", `"+14155550101"`, `null`},
			{"phone_numbers", "M13", "added", `["+14155550101"]`, `[]`},
			{"shared_phone_number", "M13", "unchanged", `null`, `null`},
			{"identities", "M27", "unchanged", `[]`, `[]`},
			{"locale", "M17", "unchanged", `"en-US"`, `"en-US"`},
			{"time_zone", "M18", "unchanged", `"UTC"`, `"UTC"`},
			{"organization_id", "M19", "unchanged", `null`, `null`},
			{"organizations", "M19", "unchanged", `[]`, `[]`},
			{"tags", "M20", "lost", `["vip"]`, `[]`},
			{"details", "M21", "unchanged", `null`, `null`},
			{"notes", "M22", "unchanged", `null`, `null`},
			{"photo", "M23", "unchanged", `null`, `null`},
			{"user_fields", "M24", "unchanged", `{}`, `{}`},
			{"external_id", "M25", "unchanged", `null`, `null`},
			{"help_center", "M26", "unchanged", `{"comments":0,"posts":0,"subscriptions":0,"votes":0}`, `{"comments":0,"posts":0,"subscriptions":0,"votes":0}`},
		}
		if !slices.Equal(got, want) {
			for i := range max(len(got), len(want)) {
				var g, w row
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Errorf("field %d = %+v, want %+v", i, g, w)
				}
			}
		}
		if jsonOf(p["tickets"]) != `{"archived":0,"ccd":0,"requested":1}` {
			t.Errorf("tickets = %v", p["tickets"])
		}
		u := p["user"].(map[string]any)
		if u["id"] != float64(dst) || u["email"] != "ann.lee@corp.example" || u["phone"] != "+14155550101" || jsonOf(u["tags"]) != "[]" {
			t.Errorf("preview user = %v", u)
		}
		if blocked["eligible"] != false || jsonOf(blockerStrings(t, blocked["blockers"].([]any))) != fmt.Sprintf(`["NotEndUser:%d"]`, agent) || blocked["user"] == nil || len(blocked["fields"].([]any)) != len(want) {
			t.Errorf("blocked preview = %v", blocked)
		}

		// Stale: the target changes between preview and merge.
		e.Must(http.StatusOK, "PUT", fmt.Sprintf("/users/%d", dst), map[string]any{"user": map[string]any{"notes": "changed"}})
		e.settle(t)
		before = dumpAll(t, raw)
		st, m := e.Do("PUT", mergePath(src), e.AgentToken, map[string]any{"user": map[string]any{"id": dst}, "merge_preview_version": p["version"]})
		if st != http.StatusConflict || m["error"] != "MergePreviewStale" {
			t.Errorf("stale merge = %d %v, want 409 MergePreviewStale", st, m)
		}
		// A blocked merge answers 422 before the version is looked at.
		if st, m := e.Do("PUT", mergePath(src), e.AgentToken, map[string]any{"user": map[string]any{"id": agent}, "merge_preview_version": "stale"}); st != 422 {
			t.Errorf("blocked merge with stale version = %d %v, want 422", st, m)
		}
		sameDump(t, "a stale merge", before, dumpAll(t, raw))
		// New tickets also make it stale.
		p2 := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", previewPath(src), target(dst)), "merge_preview")
		if p2["version"] == p["version"] {
			t.Errorf("version did not change with the target's notes")
		}
		mkTicket(t, e, map[string]any{"requester_id": src})
		if st, _ := e.Do("PUT", mergePath(src), e.AgentToken, map[string]any{"user": map[string]any{"id": dst}, "merge_preview_version": p2["version"]}); st != http.StatusConflict {
			t.Errorf("merge after a new ticket = %d, want 409", st)
		}
		p3 := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", previewPath(src), target(dst)), "merge_preview")
		e.mustStatus(http.StatusOK, e.AgentToken, "PUT", mergePath(src), map[string]any{"user": map[string]any{"id": dst}, "merge_preview_version": p3["version"]})
	})
}

// TestMergeMany proves docs/api.md §12.4.
func TestMergeMany(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		u := map[string]int64{}
		for _, n := range []string{"a", "b", "c", "x", "y", "z"} {
			u[n] = mkUserID(t, e, map[string]any{"name": strings.ToUpper(n), "email": n + "@many.example"})
		}
		pair := func(s, d int64) map[string]any { return map[string]any{"source_id": s, "target_id": d} }
		js := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", "/users/merge_many.json", map[string]any{"merges": []any{
			pair(u["a"], u["b"]), pair(u["b"], u["c"]), pair(u["x"], u["y"]), pair(u["z"], u["x"]),
			pair(u["y"], e.Agent.ID), pair(999999, u["c"]),
		}}), "job_status")
		if js["job_type"] != "bulk_merge_users" || js["total"] != 6.0 {
			t.Errorf("job = %v", js)
		}
		js = waitJob(t, e, js["id"].(string))
		if js["status"] != "completed" || js["progress"] != 6.0 {
			t.Fatalf("job = %v", js)
		}
		res := js["results"].([]any)
		want := []string{
			fmt.Sprintf(`{"index":0,"source_id":%d,"status":"Merged","success":true,"target_id":%d}`, u["a"], u["b"]),
			fmt.Sprintf(`{"index":1,"source_id":%d,"status":"Merged","success":true,"target_id":%d}`, u["b"], u["c"]),
			fmt.Sprintf(`{"index":2,"source_id":%d,"status":"Merged","success":true,"target_id":%d}`, u["x"], u["y"]),
			fmt.Sprintf(`{"error":"UserInactive","index":3,"source_id":%d,"success":false,"target_id":%d}`, u["z"], u["x"]),
			fmt.Sprintf(`{"error":"NotEndUser","index":4,"source_id":%d,"success":false,"target_id":%d}`, u["y"], e.Agent.ID),
			fmt.Sprintf(`{"error":"RecordNotFound","index":5,"source_id":999999,"success":false,"target_id":%d}`, u["c"]),
		}
		if len(res) != len(want) {
			t.Fatalf("results = %v", res)
		}
		var mergeIDs []float64
		for i, x := range res {
			r := x.(map[string]any)
			if r["success"] == true {
				mid, ok := r["user_merge_id"].(float64)
				if !ok {
					t.Errorf("result %d has no user_merge_id: %v", i, r)
				}
				mergeIDs = append(mergeIDs, mid)
				delete(r, "user_merge_id")
			} else {
				if d, _ := r["details"].(string); d == "" {
					t.Errorf("result %d has no details: %v", i, r)
				}
				delete(r, "details")
			}
			if got := jsonOf(r); got != want[i] {
				t.Errorf("result %d = %s\nwant %s", i, got, want[i])
			}
		}
		// The chain: a's email ended on c.
		c := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", u["c"]), nil), "user")
		if c["active"] != true {
			t.Errorf("c = %v", c)
		}
		var vals []string
		for _, x := range identitiesOf(t, e, u["c"]) {
			vals = append(vals, x.Value)
		}
		slices.Sort(vals)
		if !slices.Equal(vals, []string{"a@many.example", "b@many.example", "c@many.example"}) {
			t.Errorf("c's identities = %v", vals)
		}
		a := obj(t, e.Must(http.StatusOK, "GET", fmt.Sprintf("/users/%d", u["a"]), nil), "user")
		if a["merged_into_id"] != float64(u["b"]) {
			t.Errorf("a.merged_into_id = %v, want the direct target b", a["merged_into_id"])
		}
		for _, mid := range mergeIDs {
			e.Must(http.StatusOK, "GET", fmt.Sprintf("/user_merges/%d", int64(mid)), nil)
		}
		many := make([]any, 101)
		for i := range many {
			many[i] = pair(u["a"], u["b"])
		}
		if st, m := e.Do("POST", "/users/merge_many", e.AgentToken, map[string]any{"merges": many}); st != 400 || m["error"] != "TooManyValues" {
			t.Errorf("101 pairs = %d %v", st, m)
		}
	})
}

// TestMergePreviewProperty generates random pairs of users (identities of every
// type, verified or not, shared phones, organizations with multiple
// organizations on or off, tags, notes, photos, external ids, tickets with CCs,
// archived ones included, roles, deleted and merged users, SSO) and checks that
// the preview and the merge that follows it agree (M31): the preview's user is
// the target the merge returns (minus updated_at), its identities and
// memberships are the target's afterwards, and a blocked preview's blockers are
// exactly the refusal's details.base.
func TestMergePreviewProperty(t *testing.T) {
	eachMergeDB(t, func(t *testing.T, e *env, raw *sql.DB) {
		iterations := 200
		if e.DB.Dialect() == "postgres" {
			iterations = 50
		}
		if testing.Short() {
			iterations /= 4
		}
		ctx := context.Background()
		r := rand.New(rand.NewPCG(20240503, 31))
		var orgs []int64
		for i := range 4 {
			orgs = append(orgs, e.createOrg(fmt.Sprintf("Prop Org %d", i), nil))
		}
		writer := mergedesk.TicketWriter{ActorID: e.Agent.ID, Via: mergedesk.NewVia("api")}
		setSettings := func(multi, sso bool) {
			if _, err := e.DB.UpdateSettings(ctx, json.RawMessage(fmt.Sprintf(
				`{"users":{"multiple_organizations":%t},"sso":{"jwt":{"enabled":%t}}}`, multi, sso))); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		next := func() int { n++; return n }
		types := mergedesk.IdentityTypes
		mkUser := func(it int, who string) *mergedesk.User {
			nu := mergedesk.NewUser{Name: fmt.Sprintf("Prop %s %d", who, it), Role: mergedesk.RoleEndUser}
			if r.IntN(25) == 0 {
				nu.Role = []string{mergedesk.RoleAgent, mergedesk.RoleAdmin}[r.IntN(2)]
			}
			for range r.IntN(6) {
				typ := types[r.IntN(len(types))]
				if r.IntN(2) == 0 {
					typ = mergedesk.IdentityEmail
				}
				k := next()
				val := map[string]string{
					mergedesk.IdentityEmail: fmt.Sprintf("p%d@prop.example", k), mergedesk.IdentityPhone: fmt.Sprintf("+1415555%04d", 1000+k),
					mergedesk.IdentityGoogle: fmt.Sprintf("g%d@gmail.example", k),
				}[typ]
				if val == "" {
					val = fmt.Sprintf("h%d", k)
				}
				nu.Identities = append(nu.Identities, mergedesk.NewIdentity{Type: typ, Value: val, Verified: r.IntN(2) == 0})
			}
			if r.IntN(4) == 0 {
				nu.Phone, nu.SharedPhone = fmt.Sprintf("+1415555900%d", r.IntN(3)), true
			}
			str := func(p int, s string) *string {
				if r.IntN(p) != 0 {
					return nil
				}
				return &s
			}
			if r.IntN(3) == 0 {
				nu.Tags = []string{"t" + fmt.Sprint(r.IntN(3)), "vip"}
			}
			nu.Notes, nu.Details = str(3, "notes of "+who), str(4, "details")
			nu.RemotePhotoURL = str(3, fmt.Sprintf("https://img.example/%s%d.png", who, it))
			if r.IntN(4) == 0 {
				x := fmt.Sprintf("ext-%d", next())
				nu.ExternalID = &x
			}
			if r.IntN(3) == 0 {
				nu.UserFields = map[string]any{"plan": []string{"gold", "basic"}[r.IntN(2)]}
			}
			nu.LocaleID = []int64{1, 8, 16}[r.IntN(3)]
			nu.TimeZone = []string{"UTC", "Berlin", "Tokyo"}[r.IntN(3)]
			if r.IntN(2) == 0 {
				nu.OrganizationID = &orgs[r.IntN(len(orgs))]
			}
			u, err := e.DB.CreateUser(ctx, nu)
			if err != nil {
				t.Fatalf("create %+v: %v", nu, err)
			}
			if nu.OrganizationID != nil {
				for range r.IntN(3) {
					e.DB.CreateMembership(ctx, u.ID, orgs[r.IntN(len(orgs))], false, nil) // duplicates refused: fine
				}
			}
			return u
		}
		other := mkUserID(t, e, map[string]any{"name": "Prop Other", "email": "other@prop.example"})
		stats := map[string]int{}
		defer func() { t.Logf("%d iterations: %v", iterations, stats) }()
		for it := range iterations {
			setSettings(true, false)
			s, d := mkUser(it, "source"), mkUser(it, "target")
			if r.IntN(40) == 0 {
				d = s
			}
			people := []int64{s.ID, d.ID, other}
			for range r.IntN(6) {
				req := people[r.IntN(3)]
				var ccs []mergedesk.CCRef
				for _, p := range people {
					if p != req && r.IntN(2) == 0 {
						ccs = append(ccs, mergedesk.CCRef{UserID: p})
					}
				}
				in := mergedesk.TicketInput{RequesterID: &req, Comment: &mergedesk.CommentInput{Body: "x"}, Collaborators: &ccs}
				var err error
				if r.IntN(3) == 0 {
					closed := "closed"
					in.Status = &closed
					_, err = e.DB.ImportTicket(ctx, in, e.Agent.ID, true)
				} else {
					_, _, err = e.DB.CreateTicket(ctx, in, writer)
				}
				if err != nil {
					t.Fatalf("ticket: %v", err)
				}
			}
			if r.IntN(8) == 0 {
				if _, err := e.DB.CreatePost(ctx, mergedesk.NewPost{Title: "p", Details: "d", AuthorID: s.ID}); err != nil {
					t.Fatal(err)
				}
			}
			switch r.IntN(30) {
			case 0:
				e.DB.DeleteUser(ctx, d.ID, e.Admin.ID, nil)
			case 1:
				if s.Role == mergedesk.RoleEndUser && s.ID != d.ID {
					x := mkUser(it, "sink")
					x.Role = mergedesk.RoleEndUser
					e.DB.MergeUsers(ctx, s.ID, x.ID, e.Admin.ID, "")
				}
			}
			setSettings(r.IntN(2) == 0, r.IntN(10) == 0)

			plan, err := e.DB.PreviewMerge(ctx, s.ID, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			pv := obj(t, e.mustStatus(http.StatusOK, e.AgentToken, "POST", previewPath(s.ID), target(d.ID)), "merge_preview")
			if pv["version"] != plan.Version {
				t.Fatalf("iteration %d: HTTP preview version %v, store %v", it, pv["version"], plan.Version)
			}
			status, m := e.Do("PUT", mergePath(s.ID), e.AgentToken, map[string]any{"user": map[string]any{"id": d.ID}, "merge_preview_version": pv["version"]})
			blockers := blockerStrings(t, pv["blockers"].([]any))
			for _, b := range blockers {
				stats[strings.Split(b, ":")[0]]++
			}
			for _, f := range pv["fields"].([]any) {
				if f := f.(map[string]any); f["outcome"] != "unchanged" {
					stats[f["field"].(string)+"/"+f["outcome"].(string)]++
				}
			}
			if pv["eligible"] != true {
				stats["blocked"]++
				if status != 422 || !slices.Equal(base(t, m), blockers) {
					t.Errorf("iteration %d: preview blockers %v, merge = %d %v", it, blockers, status, m)
				}
				continue
			}
			stats["merged"]++
			if status != 200 {
				t.Errorf("iteration %d: eligible preview, merge = %d %v", it, status, m)
				continue
			}
			got, want := obj(t, m, "user"), pv["user"].(map[string]any)
			delete(got, "updated_at")
			delete(want, "updated_at")
			if a, b := jsonOf(got), jsonOf(want); a != b {
				t.Errorf("iteration %d (%d into %d): merged target\n%s\npreview predicted\n%s", it, s.ID, d.ID, a, b)
			}
			var wantIDs []identityRow
			for _, x := range plan.Result.Identities {
				wantIDs = append(wantIDs, identityRow{x.ID, x.Type, x.Value, x.Verified, x.Primary})
			}
			gotIDs := identitiesOf(t, e, d.ID)
			byID := func(a, b identityRow) int { return int(a.ID - b.ID) }
			slices.SortFunc(wantIDs, byID)
			slices.SortFunc(gotIDs, byID)
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("iteration %d: target identities\n%v\npreview predicted\n%v", it, gotIDs, wantIDs)
			}
			gotOrgs, gotDef := membershipsOf(t, e, d.ID)
			var wantOrgs []int64
			var wantDef int64
			for _, m := range plan.Result.Memberships {
				wantOrgs = append(wantOrgs, m.OrganizationID)
				if m.Default {
					wantDef = m.OrganizationID
				}
			}
			slices.Sort(wantOrgs)
			if !slices.Equal(gotOrgs, wantOrgs) || gotDef != wantDef {
				t.Errorf("iteration %d: target orgs %v default %d, preview predicted %v default %d", it, gotOrgs, gotDef, wantOrgs, wantDef)
			}
			// The counts agree with what was written: one audit per touched
			// ticket, a requester Change per requested ticket, an EmailCcChange
			// per changed CC list, and no CC list left holding the source or its
			// requester (archived tickets keep their CC lists as they were, M10).
			rec := e.Must(http.StatusOK, "GET", fmt.Sprintf("/user_merges?user_id=%d", s.ID), nil)["user_merges"].([]any)[0].(map[string]any)
			tk := pv["tickets"].(map[string]any)
			mid := id(t, rec)
			q := func(sql string) float64 {
				var n int
				if err := raw.QueryRow(sql, mid).Scan(&n); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
				return float64(n)
			}
			events := "SELECT COUNT(*) FROM events e JOIN audits a ON a.id = e.audit_id WHERE a.user_merge_id = $1 AND e.type = "
			if rec["tickets_moved"] != tk["requested"] || rec["ccs_moved"] != tk["ccd"] ||
				q(events+"'Change'") != tk["requested"] || q(events+"'EmailCcChange'") != tk["ccd"] ||
				q("SELECT COUNT(*) - COUNT(DISTINCT ticket_id) FROM audits WHERE user_merge_id = $1") != 0 {
				t.Errorf("iteration %d: preview tickets %v, record %v moved %v ccs", it, tk, rec["tickets_moved"], rec["ccs_moved"])
			}
			var bad int
			raw.QueryRow(`SELECT COUNT(*) FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
				WHERE c.kind = 'cc' AND t.archived = FALSE AND t.deleted = FALSE AND (c.user_id = t.requester_id OR c.user_id = $1)`, s.ID).Scan(&bad)
			if bad != 0 {
				rows, _ := raw.Query(`SELECT c.ticket_id, c.user_id, t.requester_id, t.archived, t.deleted FROM ticket_ccs c JOIN tickets t ON t.id = c.ticket_id
				WHERE c.kind = 'cc' AND t.archived = FALSE AND t.deleted = FALSE AND (c.user_id = t.requester_id OR c.user_id = $1)`, s.ID)
				for rows.Next() {
					var a, b, c2 int64
					var arch, del any
					rows.Scan(&a, &b, &c2, &arch, &del)
					t.Logf("ticket %d cc %d requester %d archived %v deleted %v (source %d target %d)", a, b, c2, arch, del, s.ID, d.ID)
				}
				rows.Close()
				t.Errorf("iteration %d: %d CC rows hold the source or the requester", it, bad)
			}
			if t.Failed() {
				return
			}
		}
	})
}
