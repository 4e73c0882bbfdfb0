package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
	"github.com/mergedesk/mergedesk/internal/web/ui"
)

// phoneIdentity is u's phone identity, read from the database.
func phoneIdentity(t *testing.T, f *fixture, userID int64) mergedesk.Identity {
	t.Helper()
	u, err := f.DB.User(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range u.Identities {
		if id.Type == mergedesk.IdentityPhone {
			return id
		}
	}
	t.Fatalf("user %d has no phone identity", userID)
	return mergedesk.Identity{}
}

// TestMergeWayOutOfM3 is the way out of rule M3 in the merge dialog: a
// phone-only caller cannot be merged until an agent verifies the number; the
// preview offers "Verify <number>", which verifies it and answers with the new
// preview, now eligible.
func TestMergeWayOutOfM3(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		ctx := context.Background()
		c := agentClient(t, ts.URL)
		phone := phoneIdentity(t, f, f.PhoneOnly.ID)
		verifyPath := fmt.Sprintf("/users/%d/identities/%d/verify", f.PhoneOnly.ID, phone.ID)

		t.Run("Candidates", func(t *testing.T) {
			_, doc := c.get(fmt.Sprintf("/users/%d/merge/candidates?q=ann", f.PhoneOnly.ID), "HX-Request", "true")
			ann := query(doc, fmt.Sprintf(`li.candidate[data-user="%d"]`, f.Ann.ID))
			if ann == nil {
				t.Fatal("Ann is not a candidate")
			}
			radio := query(ann, "input[type=radio]")
			if v, _ := attr(radio, "data-eligible"); v != "false" {
				t.Errorf("data-eligible = %q, want false (M3 refuses the source)", v)
			}
			if v, _ := attr(radio, "data-resolvable"); v != "true" {
				t.Errorf("data-resolvable = %q, want true (verifying the number lifts M3)", v)
			}
			if got := text(query(ann, ".reason")); !strings.Contains(got, "no verified identity") {
				t.Errorf("reason: %q", got)
			}
			// A target that is itself blocked has no way out from the source's dialog.
			_, doc = c.get(fmt.Sprintf("/users/%d/merge/candidates?q=sam", f.PhoneOnly.ID), "HX-Request", "true")
			if v, _ := attr(query(doc, "li.candidate input[type=radio]"), "data-resolvable"); v != "false" {
				t.Errorf("an agent as target: data-resolvable = %q, want false", v)
			}
		})

		t.Run("Preview", func(t *testing.T) {
			_, doc := c.get(fmt.Sprintf("/users/%d/merge/preview?target=%d", f.PhoneOnly.ID, f.Ann.ID), "HX-Request", "true")
			if query(doc, "#confirm-merge") != nil {
				t.Fatal("Confirm and merge offered for a refused merge")
			}
			form := query(doc, "#preview-blockers form.way-out")
			if form == nil {
				t.Fatalf("no way out in the blockers: %q", text(query(doc, "#preview-blockers")))
			}
			if a, _ := attr(form, "hx-post"); a != verifyPath {
				t.Errorf("way out posts to %q, want %q", a, verifyPath)
			}
			if got, want := text(query(form, "button")), "Verify +1 415 555 0199"; got != want || phone.Value != "+14155550199" {
				t.Errorf("way out reads %q for %s, want %q", got, phone.Value, want)
			}
			if v, _ := attr(query(form, `input[name=target]`), "value"); v != fmt.Sprint(f.Ann.ID) {
				t.Errorf("way out target = %q", v)
			}
			if v, _ := attr(query(form, `input[name=csrf_token]`), "value"); v == "" {
				t.Error("way out form without CSRF token")
			}
			// The blocker about the target (an unverified phone-only user as the
			// target) is not the source's to lift: no action.
			_, doc = c.get(fmt.Sprintf("/users/%d/merge/preview?target=%d", f.AnnDup.ID, f.PhoneOnly.ID), "HX-Request", "true")
			if query(doc, "#preview-blockers") == nil || query(doc, "form.way-out") != nil {
				t.Error("a blocker about the target offers a way out on the source's dialog")
			}
		})

		t.Run("CSRFRequired", func(t *testing.T) {
			for name, form := range map[string]url.Values{
				"Missing": {"target": {fmt.Sprint(f.Ann.ID)}, "csrf_token": {""}},
				"Wrong":   {"target": {fmt.Sprint(f.Ann.ID)}, "csrf_token": {"not-the-token"}},
			} {
				resp, _ := c.post(verifyPath, form, "HX-Request", "true")
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s token: got %d, want 403", name, resp.StatusCode)
				}
			}
			if id := phoneIdentity(t, f, f.PhoneOnly.ID); id.Verified {
				t.Fatal("verified without a valid CSRF token")
			}
		})

		t.Run("EndUserRefused", func(t *testing.T) {
			// End users cannot sign in to the UI (TestLogin); a session of one,
			// made behind the UI's back, does not reach the handler either.
			token, sess, err := f.DB.CreateSession(ctx, f.Ann.ID, time.Hour, "test", "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			eu := newClient(t, ts.URL)
			u, _ := url.Parse(ts.URL)
			eu.http.Jar.SetCookies(u, []*http.Cookie{{Name: "mergedesk_session", Value: token}})
			resp, _ := eu.post(verifyPath, url.Values{"target": {fmt.Sprint(f.Ann.ID)}, "csrf_token": {sess.CSRFToken}})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("end user: got %d, want 401", resp.StatusCode)
			}
			if id := phoneIdentity(t, f, f.PhoneOnly.ID); id.Verified {
				t.Fatal("an end user verified an identity")
			}
		})

		t.Run("OtherUsersIdentity", func(t *testing.T) {
			// The identity id must belong to the user in the path.
			bobPath := fmt.Sprintf("/users/%d/identities/%d/verify", f.Bob.ID, phone.ID)
			resp, _ := c.post(bobPath, url.Values{"target": {fmt.Sprint(f.Ann.ID)}})
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("another user's identity: got %d, want 404", resp.StatusCode)
			}
			if id := phoneIdentity(t, f, f.PhoneOnly.ID); id.Verified {
				t.Fatal("verified through another user's path")
			}
		})

		t.Run("AgentVerifiesEndUser", func(t *testing.T) {
			resp, doc := c.post(verifyPath, url.Values{"target": {fmt.Sprint(f.Ann.ID)}}, "HX-Request", "true")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("verify: got %d, want 200", resp.StatusCode)
			}
			if id := phoneIdentity(t, f, f.PhoneOnly.ID); !id.Verified {
				t.Fatal("the phone identity is not verified")
			}
			// The answer is the new preview: eligible, with Confirm and merge.
			if query(doc, "#preview-blockers") != nil {
				t.Errorf("blockers remain: %q", text(query(doc, "#preview-blockers")))
			}
			if query(doc, "#confirm-merge") == nil {
				t.Fatal("the fresh preview offers no Confirm and merge")
			}
			version, _ := attr(query(doc, `input[name=version]`), "value")
			resp, _ = c.post(fmt.Sprintf("/users/%d/merge", f.PhoneOnly.ID), url.Values{"target": {fmt.Sprint(f.Ann.ID)}, "version": {version}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("merge after verifying: got %d, want 303", resp.StatusCode)
			}
			if u, _ := f.DB.User(ctx, f.PhoneOnly.ID); u.Active || u.MergedIntoID == nil || *u.MergedIntoID != f.Ann.ID {
				t.Errorf("source after the merge: active=%v merged_into=%v", u.Active, u.MergedIntoID)
			}
		})

		t.Run("FromProfile", func(t *testing.T) {
			// Without a target the form returns to the profile.
			caller := mustUser(t, f.DB, mergedesk.NewUser{Name: "Second Caller", Phone: "+14155550177"})
			id := phoneIdentity(t, f, caller.ID)
			resp, _ := c.post(fmt.Sprintf("/users/%d/identities/%d/verify", caller.ID, id.ID), url.Values{})
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != fmt.Sprintf("/users/%d?saved=verified", caller.ID) {
				t.Fatalf("got %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if id := phoneIdentity(t, f, caller.ID); !id.Verified {
				t.Fatal("not verified")
			}
		})
	})
}

// TestMergeWayOutStaffIdentity: an agent may not verify another agent's or an
// admin's identity through the UI (CanWriteUser, checked in the store write).
func TestMergeWayOutStaffIdentity(t *testing.T) {
	eachDB(t, func(t *testing.T, f *fixture, s *ui.Server, ts *httptest.Server) {
		ctx := context.Background()
		other := mustUser(t, f.DB, mergedesk.NewUser{Name: "Otto Otheragent", Role: mergedesk.RoleAgent, Phone: "+14155550166"})
		id := phoneIdentity(t, f, other.ID)
		c := agentClient(t, ts.URL)
		resp, _ := c.post(fmt.Sprintf("/users/%d/identities/%d/verify", other.ID, id.ID), url.Values{})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("agent verifying an agent's identity: got %d, want 403", resp.StatusCode)
		}
		if id := phoneIdentity(t, f, other.ID); id.Verified {
			t.Fatal("an agent verified another agent's identity")
		}
		// The merge dialog does not offer it either (M1 refuses the agent anyway).
		_, doc := c.get(fmt.Sprintf("/users/%d/merge/preview?target=%d", other.ID, f.Ann.ID), "HX-Request", "true")
		if query(doc, "form.way-out") != nil {
			t.Error("a way out offered on an agent's identity")
		}
		// An admin may.
		a := newClient(t, ts.URL)
		a.login(adminEmail, adminPassword)
		resp, _ = a.post(fmt.Sprintf("/users/%d/identities/%d/verify", other.ID, id.ID), url.Values{})
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("admin verifying an agent's identity: got %d, want 303", resp.StatusCode)
		}
		if u, _ := f.DB.User(ctx, other.ID); !u.Verified() {
			t.Error("admin's verification did not stick")
		}
	})
}
