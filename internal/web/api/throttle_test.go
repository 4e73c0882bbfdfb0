package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/mergedesk/mergedesk"
)

// doAuth sends GET path with an Authorization header and returns the status,
// the headers and the decoded body.
func (e *env) doAuth(path, auth string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.URL+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

// TestPasswordThrottle: HTTP Basic email:password failures are throttled per
// account and address like the UI's sign-in form (docs/api.md §1.6: 429 with
// Retry-After), before any password is hashed.
func TestPasswordThrottle(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		for i := range 5 {
			if status, _, _ := e.doAuth("/users/me", basic("agent@mergedesk.test", "guess-"+strconv.Itoa(i))); status != http.StatusUnauthorized {
				t.Fatalf("failure %d: got %d, want 401", i+1, status)
			}
		}
		status, h, body := e.doAuth("/users/me", basic("agent@mergedesk.test", "password-agent"))
		if status != http.StatusTooManyRequests || body["error"] != "TooManyRequests" || body["description"] == nil {
			t.Fatalf("after 5 failures, the right password: got %d %v, want 429 TooManyRequests", status, body)
		}
		if s, err := strconv.Atoi(h.Get("Retry-After")); err != nil || s < 1 || s > 15*60 {
			t.Errorf("Retry-After = %q, want seconds in [1, 900]", h.Get("Retry-After"))
		}
		// Tokens are not passwords: the same account still works with one.
		if status, _, _ := e.doAuth("/users/me", "Bearer "+e.AgentToken); status != http.StatusOK {
			t.Errorf("token of the locked account: got %d, want 200", status)
		}
		// Unknown emails are locked the same way, so a 429 says nothing about
		// whether an account exists.
		for i := range 5 {
			e.doAuth("/users/me", basic("nobody@mergedesk.test", "guess-"+strconv.Itoa(i)))
		}
		if status, _, _ := e.doAuth("/users/me", basic("nobody@mergedesk.test", "x")); status != http.StatusTooManyRequests {
			t.Errorf("unknown email after 5 failures: got %d, want 429", status)
		}
	})
}

// TestPasswordTiming: an account without a password, or no account at all,
// answers a wrong password no faster than an account with one. (Before, a
// passwordless account skipped PBKDF2 and answered in about a millisecond.)
func TestPasswordTiming(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		if _, err := e.DB.CreateUser(context.Background(), mergedesk.NewUser{Name: "No Password", Role: mergedesk.RoleAgent,
			Email: "nopass@mergedesk.test", Verified: true}); err != nil {
			t.Fatal(err)
		}
		timed := func(email string) time.Duration {
			start := time.Now()
			if status, _, _ := e.doAuth("/users/me", basic(email, "wrong-password")); status != http.StatusUnauthorized {
				t.Fatalf("%s: got %d, want 401", email, status)
			}
			return time.Since(start)
		}
		withPassword := timed("agent@mergedesk.test")
		for _, email := range []string{"nopass@mergedesk.test", "nobody@mergedesk.test"} {
			if got := timed(email); got < withPassword/2 {
				t.Errorf("%s answered in %v, an account with a password in %v: timing tells them apart", email, got, withPassword)
			}
		}
	})
}
